// argv → options for every command (GitHub CLI's TestNewCmdX): the command line is parsed and validated, the
// action records the options it would hand to the application layer, and nothing runs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { COMMAND_GROUPS } from '../../src/cli/program.js';

interface Parsed {
  code: number;
  command?: string;
  options?: Record<string, unknown>;
  stderr: string;
}

async function parse(args: string[]): Promise<Parsed> {
  const io = IOStreams.test();
  let command: string | undefined;
  let options: Record<string, unknown> | undefined;
  const code = await run(args, {
    io,
    env: { HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent', XDG_STATE_HOME: '/nonexistent' },
    capture: (c, o) => {
      command = c;
      options = o as Record<string, unknown>;
    },
  });
  return { code, command, options, stderr: io.errText() };
}

/** [argv, command, options (a subset that must match exactly)] */
const OK: [string[], string, Record<string, unknown>][] = [
  [['wol', 'pc01', 'pc02'], 'wol', { targets: ['pc01', 'pc02'], all: false, wait: true, intervalMs: undefined }],
  [['wol', '--all', '--interval', '1s', '--timeout', '500ms', '--no-wait', '--probe', 'tcp:5986', '--concurrency', '8'], 'wol', { all: true, intervalMs: 1000, timeoutMs: 500, wait: false, probe: { kind: 'tcp', port: 5986 }, concurrency: 8 }],
  [['wol', '00:11:22:33:44:55', '--broadcast', '127.0.0.255', '--port', '7', '--repeat', '2', '--attempts', '5'], 'wol', { targets: ['00:11:22:33:44:55'], broadcast: '127.0.0.255', port: 7, repeat: 2, attempts: 5 }],
  [['exec', 'ws1', 'ws2', '--', 'power', 'shutdown', '--reason=Remote order & more'], 'exec', { hosts: ['ws1', 'ws2'], all: false, argv: ['power', 'shutdown', '--reason=Remote order & more'], concurrency: 256 }],
  [['exec', '--all', '--ssl', '--port', '5986', '--transport', 'basic', '--timeout', '3m', '--', 'status-json'], 'exec', { all: true, argv: ['status-json'], winrm: { transport: 'basic', ssl: true, port: 5986, user: undefined, passwordFile: undefined, ca: undefined, insecure: undefined, timeoutMs: 180_000 } }],
  [['exec', 'ws1', 'status-json'], 'exec', { hosts: ['ws1'], argv: ['status-json'] }],
  [['heartbeat', 'poll', '--all', '--source', 'file', '--path', '/mnt/{host}.json', '--no-store', '--no-events', '--concurrency', '4'], 'heartbeat poll', { hosts: [], all: true, source: 'file', path: '/mnt/{host}.json', store: false, events: false, concurrency: 4 }],
  [['heartbeat', 'poll', 'ws1'], 'heartbeat poll', { hosts: ['ws1'], all: false, store: true, events: true }],
  [['heartbeat', 'show', 'ws1', '--events'], 'heartbeat show', { hosts: ['ws1'], events: true }],
  [['heartbeat', 'alerts'], 'heartbeat alerts', {}],
  [['reserve', 'start', '0xabc', '--host', 'ws1', '--lab', '3', '--guard-grace', '120', '--prepare-arg=--no-guard'], 'reserve start', { reservationId: '0xabc', host: 'ws1', lab: '3', guardGrace: 120, prepareArg: ['--no-guard'], wake: true, prepare: true, force: false }],
  [['reserve', 'end', '0xabc', '--no-release', '--power', 'hibernate', '--power-arg=--delay=60', '--force'], 'reserve end', { reservationId: '0xabc', release: false, power: 'hibernate', powerArg: ['--delay=60'], force: true }],
  [['reserve', 'log', '0xabc', '--limit', '5', '--offset', '10'], 'reserve log', { reservationId: '0xabc', limit: 5, offset: 10 }],
  [['reserve', 'scan', '--once', '--batch', '50'], 'reserve scan', { once: true, batch: 50 }],
  [['provision', 'sessions', '--once', '--timeout', '5m', '--contract', 'provision-worker', '--accept-new'], 'provision sessions', { once: true, timeout: 300_000, contract: 'provision-worker', acceptNew: true }],
  [['provision', 'cleanup', '--jump', 'ops@bastion:2222'], 'provision cleanup', { once: false, jump: 'ops@bastion:2222' }],
  [['provision', 'hosts', 'create', 'pc01', '--mac', 'aa:bb:cc:dd:ee:ff', '--ip', '10.0.0.9', '--pxe', '1', '--dry-run'], 'provision hosts', { action: 'create', hostname: 'pc01', mac: 'aa:bb:cc:dd:ee:ff', ip: '10.0.0.9', pxe: 1, dryRun: true }],
  [['servers', 'check', '--once', '--concurrency', '3'], 'servers check', { once: true, concurrency: 3 }],
  [['labs', 'sync', '--server', 'a', '--server', 'b', '--purge', '--lab-concurrency', '2'], 'labs sync', { server: ['a', 'b'], purge: true, labConcurrency: 2 }],
  [['labs', 'list', '--include-orphaned', '--format', 'lab-record'], 'labs list', { includeOrphaned: true, format: 'lab-record' }],
  // former spellings still work (with a warning)
  [['labs', 'list', '--all'], 'labs list', { includeOrphaned: true }],
  [['provision', 'hosts', 'create', 'pc01', '--config', 'win11'], 'provision hosts', { group: 'win11' }],
  [['sim', '--hosts', '7'], 'sim', { stations: 7 }],
  [['labs', 'history', 'lab-1', '--server', 'cml-1'], 'labs history', { labId: 'lab-1', server: 'cml-1' }],
  [['dhcp-patch', '-s', 'default-school', '--next-server', '10.0.0.13', '--dry-run'], 'dhcp-patch', { school: 'default-school', nextServer: '10.0.0.13', dryRun: true }],
  [['dc', 'jobs', '--once', '--batch-size', '10', '--debounce', '2s'], 'dc jobs', { once: true, batchSize: 10, debounce: 2000 }],
  [['dc', 'setup', '--linbo-ip', '10.0.0.13', '--no-enable', '--root', '/tmp/r'], 'dc setup', { linboIp: '10.0.0.13', enable: false, root: '/tmp/r' }],
  [['dc', 'check', '--worker-conf', '/etc/w.conf'], 'dc check', { workerConf: '/etc/w.conf' }],
  [['macct-repair', 'pc01', 'pc02', '-s', 'school2', '--native'], 'macct-repair', { hosts: ['pc01', 'pc02'], school: 'school2', native: true }],
  [['daemon', '--only', 'api,heartbeat', '--listen', '127.0.0.1:0'], 'daemon', { only: ['api', 'heartbeat'], listen: '127.0.0.1:0' }],
  [['sim', '--stations', '3', '--base-address', '127.9.9.1', '--time-scale', '60', '--cml', '1'], 'sim', { stations: 3, baseAddress: '127.9.9.1', timeScale: 60, cml: 1 }],
  [['provision', 'hosts', 'update', 'pc01', '--group', 'win11'], 'provision hosts', { group: 'win11' }],
  [['db', 'migrate', '--create-foreign'], 'db migrate', { createForeign: true }],
  [['db', 'status'], 'db status', {}],
  [['config', 'show'], 'config show', {}],
  [['doctor', '--sample', '0', '--timeout', '2s'], 'doctor', { sampleHosts: 0, timeoutMs: 2000 }],
  [['completion', 'zsh'], 'completion', { shell: 'zsh' }],
  // global options before or after the command do not reach its options
  [['--json', 'wol', '--all', '-y'], 'wol', { all: true }],
];

/** [argv, stderr pattern]: usage errors, exit 2, before anything runs */
const BAD: [string[], RegExp][] = [
  [['wol', '--interval', 'soon'], /argument 'soon' is invalid/],
  [['wol', '--probe', 'udp'], /expected 'icmp' or 'tcp:<port>'/],
  [['exec', 'ws1', '--transport', 'kerberos', '--', 'status'], /argument 'kerberos' is invalid/],
  [['exec', 'ws1', '--all', '--', 'status'], /give host names or --all, not both/],
  [['heartbeat', 'poll', '--source', 'smb'], /argument 'smb' is invalid/],
  [['reserve', 'start', 'bad id!'], /expected a reservation id/],
  [['reserve', 'end', '0x1', '--power', 'reboot'], /argument 'reboot' is invalid/],
  [['provision', 'sessions', '--contract', 'other'], /argument 'other' is invalid/],
  [['provision', 'hosts', 'rename', 'pc01'], /value 'rename' is invalid/],
  [['labs', 'list', '--format', 'xml'], /argument 'xml' is invalid/],
  [['daemon', '--only', 'heartbeat,nosuch'], /--only: unknown loop\(s\) nosuch/],
  [['daemon', '--only', ','], /--only: unknown loop\(s\) \(none given\)/],
  [['sim', '--stations', '0'], /expected a whole number from 1/],
  [['completion', 'tcsh'], /value 'tcsh' is invalid/],
  [['dhcp-patch', '--next-server', 'not-an-ip'], /expected an IPv4 or IPv6 address/],
];

describe('argv → options', () => {
  for (const [argv, command, expected] of OK) {
    test(argv.join(' '), async () => {
      const r = await parse(argv);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.command, command);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual(r.options![k], v, `${argv.join(' ')}: ${k}`);
    });
  }
  for (const [argv, pattern] of BAD) {
    test(`bad: ${argv.join(' ')}`, async () => {
      const r = await parse(argv);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.command, undefined, 'nothing ran');
      assert.match(r.stderr, pattern);
    });
  }

  test('a former spelling warns and names the new one', async () => {
    assert.match((await parse(['labs', 'list', '--all'])).stderr, /warning: --all is now --include-orphaned/);
    assert.match((await parse(['sim', '--hosts', '2'])).stderr, /warning: --hosts is now --stations/);
    assert.match((await parse(['provision', 'hosts', 'delete', 'pc01', '--config', 'x'])).stderr, /warning: --config is now --group/);
    assert.equal((await parse(['labs', 'list', '--include-orphaned'])).stderr, '');
  });

  test('every subcommand\'s help lists the global options', async () => {
    const io = IOStreams.test();
    assert.equal(await run(['heartbeat', 'show', '--help'], { io, env: {} }), 0);
    assert.match(io.outText(), /\nGlobal options \(before or after the command\):\n {2}--config <file>[\s\S]*-q, --quiet/);
  });

  test('every command of the tree is in the table', async () => {
    const covered = new Set(OK.map(([, c]) => c.split(' ')[0]));
    const groups = COMMAND_GROUPS.filter((g) => !g.hidden).map((g) => g.name);
    assert.deepEqual(groups.filter((g) => !covered.has(g)), []);
  });
});
