// The hostile-input corpus (issue 24): one table of operator mistakes and attacks, each run through the built
// binary against one workspace (inventory, config, SQLite store, heartbeat share). For every case: the expected
// exit code, a message on stderr and never a stack trace, no secret of the environment or inventory in any
// output, and the workspace byte for byte as it was (cases that read a station's heartbeat may record the
// failed poll, but never store the heartbeat).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-hostile-');
const ws = (...p: string[]) => join(dir.path, ...p);
const SECRETS = { WS_PASS: 'Sup3r-Secret-Pw', OPS_INTERNAL_AUTH_TOKEN: 'T0ken-Secret-Value', DB_PASSWORD: 'Db-Secret-Pw' };
const env = (): NodeJS.ProcessEnv => ({
  HOME: ws(),
  XDG_STATE_HOME: ws('state'),
  OPS_CONFIG: ws('hosts.json'),
  LABOPS_DB: `sqlite:${ws('labops.db')}`,
  LABOPS_HEARTBEAT_SOURCE: 'file',
  LABOPS_HEARTBEAT_PATH: ws('share', '{host}.json'),
  WS_PASS: SECRETS.WS_PASS,
  OPS_INTERNAL_AUTH_TOKEN: SECRETS.OPS_INTERNAL_AUTH_TOKEN,
});

const inventory = (hosts: unknown[]) => JSON.stringify({ hosts });
const heartbeatFixture = new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url);

before(async () => {
  mkdirSync(ws('share'));
  writeFileSync(ws('hosts.json'), inventory([{ name: 'ws1', address: '127.0.0.1', mac: '00:11:22:33:44:01', winrm_user: 'lab', winrm_pass: 'env:WS_PASS' }, { name: 'ws2', address: '127.0.0.1', winrm_user: 'lab', winrm_pass: 'env:WS_PASS' }]));
  writeFileSync(ws('inv-injection.json'), inventory([{ name: 'ws1', address: `127.0.0.9; touch ${ws('pwned')}` }]));
  writeFileSync(ws('inv-ping-option.json'), inventory([{ name: 'ws1', address: '127.0.0.9', ping_target: '-f' }]));
  writeFileSync(ws('inv-name-path.json'), inventory([{ name: '../ws1', address: '127.0.0.9' }]));
  writeFileSync(ws('inv-heartbeat-path.json'), inventory([{ name: 'ws1', address: '127.0.0.9', heartbeat_path: 'C:\\a\\..\\..\\b.json' }]));
  writeFileSync(ws('inv-many.json'), inventory([{ name: 'ws1', address: '127.0.0.9', mac: 'zz' }, { name: 'ws1', address: 'x y' }]));
  writeFileSync(ws('inv-broken.json'), '{"hosts": [');
  writeFileSync(ws('config-bad-value.json'), JSON.stringify({ heartbeat: { interval: 'soon' } }));
  writeFileSync(ws('config-broken.json'), '{"db": ');
  // heartbeats: an impossible date (ws1), over the size cap (big), nested past the depth cap (deep)
  const impossible = readFileSync(heartbeatFixture, 'utf8').replace(/"timestamp":\s*"[^"]*"/, '"timestamp": "2026-13-45T99:00:00Z"');
  writeFileSync(ws('share', 'ws1.json'), impossible);
  writeFileSync(ws('share', 'big.json'), ' '.repeat(5 * 1024 * 1024));
  writeFileSync(ws('share', 'deep.json'), '['.repeat(100_000));
  copyFileSync(ws('hosts.json'), ws('hosts-big.json'));
  writeFileSync(ws('hosts-big.json'), inventory([{ name: 'big', address: '127.0.0.1' }, { name: 'deep', address: '127.0.0.1' }]));
  const m = await runCli(['db', 'migrate'], { env: env() });
  assert.equal(m.code, 0, m.stderr);
});
after(() => dir.cleanup());

/** Every file of the workspace with its content hash: what "nothing changed" is checked against. */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir.path, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir.path);
  return out;
}

interface Case {
  what: string;
  args: string[];
  exit: number;
  /** stderr must match (stdout or stderr for a poll: a host's error is a row of its table) */
  says: RegExp;
  /** a failed poll may be recorded (the store changes), but no heartbeat is stored */
  polls?: string;
}

const cases: Case[] = [
  // names that do not exist
  { what: 'unknown host in heartbeat show', args: ['heartbeat', 'show', 'nosuch'], exit: 2, says: /unknown host 'nosuch'/ },
  { what: 'unknown CML server in labs list', args: ['labs', 'list', '--server', 'nosuch'], exit: 2, says: /unknown CML server 'nosuch'/ },
  { what: 'unknown host in exec', args: ['exec', 'nosuch', '--', 'status-json'], exit: 2, says: /unknown host 'nosuch'/ },
  { what: 'unknown host in wol', args: ['wol', 'nosuch'], exit: 2, says: /unknown host 'nosuch'/ },
  { what: 'unknown command', args: ['frobnicate'], exit: 2, says: /unknown command 'frobnicate'/ },
  { what: 'unknown option', args: ['wol', '--frob'], exit: 2, says: /unknown option '--frob'/ },
  // LabStation commands and their arguments
  { what: 'a command outside the allow-list', args: ['exec', 'ws1', '--', 'format', 'c:'], exit: 2, says: /'format' is not an allowed LabStation command/ },
  { what: 'a line feed in an argument', args: ['exec', 'ws1', '--', 'power', 'shutdown', '--reason=a\nb'], exit: 2, says: /line feed/ },
  { what: 'cmd.exe metacharacters that cannot pass', args: ['exec', 'ws1', '--', 'session', 'guard', '--message=%PATH%"'], exit: 2, says: /argument .* contains/ },
  { what: 'a fleet power action without --yes', args: ['exec', '--all', '--', 'power', 'shutdown'], exit: 2, says: /--yes required/ },
  // values and flags
  { what: 'a path as a school', args: ['dhcp-patch', '-s', '../evil'], exit: 2, says: /invalid school "\.\.\/evil"/ },
  { what: 'an option for the school', args: ['dhcp-patch', '-s', '--help'], exit: 2, says: /invalid school|school/ },
  { what: '--watch without a terminal', args: ['heartbeat', 'show', '--watch'], exit: 2, says: /--watch needs a terminal/ },
  { what: 'an unknown output format', args: ['heartbeat', 'show', '--format', 'xml'], exit: 2, says: /Allowed choices are table, tsv, json/ },
  { what: 'a duration that is not one', args: ['wol', 'ws1', '--timeout', 'abc'], exit: 2, says: /expected a duration/ },
  { what: 'a negative count', args: ['sim', '--stations', '-1'], exit: 2, says: /expected a whole number/ },
  { what: 'zero concurrency', args: ['exec', '--all', '--concurrency', '0', '--', 'status-json'], exit: 2, says: /expected a whole number/ },
  { what: 'SQL in a reservation id', args: ['reserve', 'log', "1' OR 1=1 --"], exit: 2, says: /expected a reservation id/ },
  { what: 'SQL in a lab id', args: ['labs', 'history', 'x; drop table lab_hosts'], exit: 2, says: /no cached lab/ },
  // stores and config
  { what: 'a read against a missing SQLite file', args: ['--db', `sqlite:${ws('none', 'x.db')}`, 'heartbeat', 'show'], exit: 2, says: /no SQLite database at/ },
  { what: 'alerts against a missing SQLite file', args: ['--db', `sqlite:${ws('none', 'x.db')}`, 'heartbeat', 'alerts'], exit: 2, says: /no SQLite database at/ },
  { what: 'a reservation log against a missing SQLite file', args: ['--db', `sqlite:${ws('none', 'x.db')}`, 'reserve', 'log', '0xabc'], exit: 2, says: /no SQLite database at/ },
  { what: 'an unreachable MariaDB with a password in the URL', args: ['--db', `mysql://u:${SECRETS.DB_PASSWORD}@127.0.0.1:1/x`, 'db', 'migrate'], exit: 3, says: /unreachable/ },
  { what: 'a config file that is not there', args: ['--config', ws('nope.json'), 'config', 'show'], exit: 2, says: /cannot read \(ENOENT\)/ },
  { what: 'a config file that is not JSON', args: ['--config', ws('config-broken.json'), 'heartbeat', 'show'], exit: 2, says: /config-broken\.json/ },
  { what: 'a config value of the wrong kind', args: ['--config', ws('config-bad-value.json'), 'heartbeat', 'show'], exit: 2, says: /heartbeat\.interval .*expected a duration/ },
  // inventories
  { what: 'a shell command in an address', args: ['--hosts', ws('inv-injection.json'), 'wol', 'ws1'], exit: 2, says: /hosts\[0\]\.address: is not a host address/ },
  { what: 'an option as a ping target', args: ['--hosts', ws('inv-ping-option.json'), 'heartbeat', 'show'], exit: 2, says: /hosts\[0\]\.ping_target: is not a probe target/ },
  { what: 'a path as a host name', args: ['--hosts', ws('inv-name-path.json'), 'heartbeat', 'show'], exit: 2, says: /hosts\[0\]\.name: is not a host name/ },
  { what: "'..' in a heartbeat path", args: ['--hosts', ws('inv-heartbeat-path.json'), 'heartbeat', 'show'], exit: 2, says: /hosts\[0\]\.heartbeat_path: is not an absolute Windows path/ },
  { what: 'an inventory that is not JSON', args: ['--hosts', ws('inv-broken.json'), 'heartbeat', 'show'], exit: 2, says: /not valid JSON/ },
  { what: 'every problem of an inventory at once', args: ['--hosts', ws('inv-many.json'), 'heartbeat', 'show'], exit: 2, says: /3 problems:\n {2}hosts\[0\]\.mac: .*\n {2}hosts\[1\]\.address: .*\n {2}hosts\[1\]\.name: duplicate/ },
  // heartbeat files
  { what: 'a heartbeat with an impossible date', args: ['heartbeat', 'poll', 'ws1', '--no-events'], exit: 2, says: /not a real date and time/, polls: 'ws1' },
  { what: 'a heartbeat over the size cap', args: ['--hosts', ws('hosts-big.json'), 'heartbeat', 'poll', 'big', '--no-events'], exit: 2, says: /more than the 4 MiB heartbeat\.max-size allows; not read/, polls: 'big' },
  { what: 'a heartbeat nested past the depth cap', args: ['--hosts', ws('hosts-big.json'), 'heartbeat', 'poll', 'deep', '--no-events'], exit: 2, says: /nested deeper than 64 levels/, polls: 'deep' },
];

describe('hostile input: a clear error, the right exit, no secret, nothing changed', () => {
  const tally = { cases: 0, rightExit: 0, wrongExit: 0, stackTraces: 0, changed: 0, secrets: 0 };
  after(() => {
    // the figures for the closing note, in the test output
    process.stdout.write(`# hostile corpus: ${JSON.stringify(tally)}\n`);
  });
  for (const c of cases) {
    test(c.what, async () => {
      tally.cases++;
      const before = snapshot();
      const r = await runCli(c.args, { env: env() });
      const output = r.stdout + r.stderr;
      const trace = /^\s+at .+[(\s].*:\d+:\d+\)?$/m.test(r.stderr);
      const leaked = Object.values(SECRETS).filter((s) => output.includes(s));
      const changed = [...new Set([...before.keys(), ...snapshot().keys()])].filter((f) => before.get(f) !== snapshot().get(f));
      tally[r.code === c.exit ? 'rightExit' : 'wrongExit']++;
      if (trace) tally.stackTraces++;
      if (leaked.length) tally.secrets++;
      assert.equal(r.code, c.exit, r.stderr);
      assert.match(c.polls ? output : r.stderr, c.says);
      assert.ok(!trace, `no stack trace:\n${r.stderr}`);
      assert.deepEqual(leaked, [], 'no secret in any output');
      assert.ok(!existsSync(ws('pwned')), 'nothing injected ran');
      assert.ok(!existsSync(ws('none')), 'a read creates no store');
      if (c.polls) {
        // the failed poll may be recorded in the store; the heartbeat itself never is
        assert.deepEqual(changed.filter((f) => !f.startsWith('labops.db')), []);
        const shown = await runCli(['--hosts', c.args.includes('--hosts') ? c.args[c.args.indexOf('--hosts') + 1]! : ws('hosts.json'), '--json', 'heartbeat', 'show', c.polls], { env: env() });
        assert.equal(shown.code, 0, shown.stderr);
        assert.equal(JSON.parse(shown.stdout).hosts[0].reported, false, 'no heartbeat stored');
      } else {
        if (changed.length) tally.changed++;
        assert.deepEqual(changed, [], 'nothing changed');
      }
    });
  }
});
