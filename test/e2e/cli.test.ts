// Black-box tests of the built binary: exit codes, stdout, stderr, signals, pipes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, runCli } from '../support/cli.js';
import { randomLoopbackBase, requireBinary } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';

const dir = tempDir();
after(() => dir.cleanup());

describe('basics', () => {
  test('--help and --version exit 0 and print to stdout', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: labops \[options\] \[command\]/);
    assert.match(help.stdout, /Exit codes:\n\s+0 {2}success/);
    assert.equal(help.stderr, '');
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('unknown flag and unknown command: exit 2, one error line and the hint, nothing on stdout', async () => {
    for (const args of [['wol', '--bogus', 'x'], ['bogus']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^labops: error: unknown (option|command)/);
      assert.match(r.stderr, /\(add --help for usage\)/);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
  });

  test('bad duration and bad MAC are usage errors; nothing is sent', async () => {
    const d = await runCli(['wol', 'aa:bb:cc:dd:ee:ff', '--interval', 'soon']);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /argument 'soon' is invalid\. expected a duration like 500ms, 5s or 2m/);
    const m = await runCli(['wol', 'aa:bb:cc:dd:ee:fg']);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /^labops: invalid MAC address 'aa:bb:cc:dd:ee:fg'\n/);
  });

  test('a malformed hosts.json names the file and the JSON path (OPS_CONFIG)', async () => {
    const f = join(dir.path, 'hosts.json');
    writeFileSync(f, JSON.stringify({ hosts: [{ name: 'a', address: 'b', mac: 'nope' }] }));
    const r = await runCli(['wol', '--all'], { env: { OPS_CONFIG: f } });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n')[0], `labops: inventory ${f}: hosts[0].mac: is not a MAC address`);
  });

  test('--verbose adds a stack trace, nothing else does', async () => {
    const f = join(dir.path, 'missing.json');
    const quiet = await runCli(['--hosts', f, 'wol', 'x']);
    const loud = await runCli(['--hosts', f, '-v', 'wol', 'x']);
    assert.doesNotMatch(quiet.stderr, /\n\s+at /);
    assert.match(loud.stderr, /\n\s+at /);
  });

  test('config show: sources and redaction, JSON and TSV', async () => {
    const env = { LABOPS_WINRM_PASSWORD: 'hunter2-secret', MYSQL_DSN: 'mysql+pymysql://ops:dbpass-secret@db:3306/gw', HOME: dir.path };
    const r = await runCli(['--json', 'config', 'show'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2-secret|dbpass-secret/);
    const doc = JSON.parse(r.stdout);
    const db = doc.settings.find((s: { key: string }) => s.key === 'db');
    assert.deepEqual(db, { key: 'db', value: 'mysql+pymysql://ops:***@db:3306/gw', source: '$MYSQL_DSN' });
    const tsv = await runCli(['config', 'show', '--db', 'sqlite:/x.db'], { env });
    assert.match(tsv.stdout, /^db\tsqlite:\/x\.db\t--db$/m);
    assert.match(tsv.stdout, /^winrm\.password\t<redacted>\t\$LABOPS_WINRM_PASSWORD$/m);
    // the config file's sections: CML servers and the notify hook, their secrets as references or <redacted>
    const cfg = join(dir.path, 'sections.json');
    writeFileSync(cfg, JSON.stringify({ cml: { servers: [{ id: 'cml-1', url: 'https://cml.example', username: 'admin', password: 'literal-cml-secret' }] }, notify: { webhook: 'https://chat.example/hook?token=webhook-secret', command: ['/bin/true'] } }));
    const sections = await runCli(['--config', cfg, 'config', 'show'], { env });
    assert.match(sections.stdout, /^cml\.servers\[0\]\tcml-1 https:\/\/cml\.example user admin password <redacted>\t.*sections\.json$/m);
    assert.match(sections.stdout, /^notify\tcommand \/bin\/true, webhook <redacted>, timeout 10s\t/m);
    assert.doesNotMatch(sections.stdout, /literal-cml-secret|webhook-secret/);
  });

  test('EPIPE on stdout exits quietly', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; node ${BIN} completion bash | head -c 10 >/dev/null; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    assert.match(r.stdout, /rc=0/);
    assert.doesNotMatch(r.stderr, /EPIPE|Error/);
  });

  test('completion scripts for every shell', async () => {
    // each script asks `labops __complete` (test/e2e/completion.test.ts drives the shells themselves)
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCli(['completion', shell]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /labops __complete --/);
    }
    const bad = await runCli(['completion', 'tcsh']);
    assert.equal(bad.code, 2);
    const hook = await runCli(['__complete', '--', 'wol', '--al']);
    assert.equal(hook.stdout.split('\t')[0], '--all');
  });
});

describe('signals and the simulator', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ hosts: 2, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, bootDelayMs: 100 });
  });
  after(async () => sim.close());

  test('wol against the simulator through the binary', async () => {
    const r = await runCli(['--hosts', sim.inventoryPath, 'wol', '--all', '--interval', '150ms', '--timeout', '300ms', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).up, 2);
    assert.equal(r.stderr, '');
  });

  test('the first SIGINT aborts in-flight work and exits 130', async () => {
    const inv = join(dir.path, 'never.json');
    writeFileSync(inv, JSON.stringify({ hosts: [{ name: 'never', address: '127.0.0.1', mac: '02:00:00:00:00:77', broadcast: '127.0.0.1', wol_port: sim.wolPort, probe: 'tcp:1' }] }));
    const child = spawn(process.execPath, [BIN, '--hosts', inv, 'wol', 'never', '--interval', '30s', '--attempts', '5'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    assert.equal(code, 130);
    assert.ok(Date.now() - started < 4000, 'exits promptly, not after the 30 s interval');
    assert.match(stderr, /interrupted, cleaning up \(Ctrl-C again to force\)/);
  });

  test('ICMP "host is down" inside a network namespace the test creates', async (t) => {
    if (!requireBinary(t, 'ip (iproute2)', ['/usr/sbin/ip', '/sbin/ip', '/bin/ip'])) return;
    const ns = `labops-e2e-${process.pid}`;
    try {
      execFileSync('ip', ['netns', 'add', ns]);
    } catch (e) {
      if (process.env.CI) throw e;
      return t.skip('cannot create a network namespace here');
    }
    try {
      // Inside the namespace only 127.0.0.1 is local; 127.0.0.99 has no route, so ping gets no answer.
      execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', 'ip link set lo up && ip route del local 127.0.0.0/8 dev lo table local']);
      const inv = join(dir.path, 'ns.json');
      writeFileSync(inv, JSON.stringify({ hosts: [{ name: 'down', address: '127.0.0.99', mac: '02:00:00:00:00:99', broadcast: '127.0.0.1', wol_port: 9, probe: 'icmp' }] }));
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, BIN, '--hosts', inv, '--json', 'wol', 'down', '--interval', '100ms', '--timeout', '300ms', '--attempts', '2'], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
      assert.equal(r.status, 3, r.stderr);
      const h = JSON.parse(r.stdout).hosts[0];
      assert.equal(h.status, 'no-response');
      assert.equal(h.message, 'Host did not respond to ping');
      assert.equal(h.attemptsUsed, 2);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
