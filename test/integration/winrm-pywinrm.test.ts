// The independent check: Debian's pywinrm 0.3 (NTLM with message encryption over HTTP, Basic over HTTPS) runs
// run_cmd and run_ps against the simulated WinRM server and gets the right stdout and exit codes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePowerShell } from '../../src/core/winrm/powershell.js';
import { SimWinRMServer, TrivialHandler, ensureSimCertificates, type SimCertificates } from '../../src/sim/winrm/index.js';
import { type PywinrmRequest, pythonEnv, requirePywinrm, runPywinrm } from '../support/pywinrm.js';
import { randomLoopbackBase } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const USER = 'labadmin';
const PASSWORD = 'S3cret!pa55';
const EXE = 'C:\\LabStation\\LabStation.exe';
let address: string;
let certs: SimCertificates;
let server: SimWinRMServer;
let env: NodeJS.ProcessEnv;
const dir = tempDir('labops-pywinrm-');

before(async () => {
  address = randomLoopbackBase();
  certs = await ensureSimCertificates(dir.path, [address]);
  const handler = new TrivialHandler();
  handler.files.set('c:\\labstation\\heartbeat.json', Buffer.from('\ufeff{"schemaVersion":"1.0.0","host":"LAB-01"}'));
  server = new SimWinRMServer({ address, httpPort: 0, httpsPort: 0, tls: { cert: certs.cert, key: certs.key }, users: { [USER]: PASSWORD }, handler });
  await server.start();
  env = pythonEnv(dir.path);
});
after(async () => {
  await server.stop();
  dir.cleanup();
});

const base = (over: Partial<PywinrmRequest>): PywinrmRequest => ({ endpoint: `http://${address}:${server.httpPort}/wsman`, transport: 'ntlm', user: USER, password: PASSWORD, ops: [], ...over });

test('pywinrm over HTTP with NTLM message encryption: run_cmd and run_ps', async (t) => {
  if (!requirePywinrm(t)) return;
  const before = server.received.length;
  const results = await runPywinrm(
    base({
      ops: [
        { kind: 'cmd', exe: EXE, args: ['prepare-session', '--guard-grace=90'] },
        { kind: 'cmd', exe: EXE, args: ['exit', '2'] },
        { kind: 'ps', script: "Get-Content -LiteralPath 'C:\\LabStation\\heartbeat.json' -Raw -Encoding UTF8" },
      ],
    }),
    env,
  );
  assert.deepEqual(results[0], { status_code: 0, std_out: JSON.stringify({ command: EXE, args: ['prepare-session', '--guard-grace=90'] }) + '\n', std_err: '' });
  assert.deepEqual(results[1], { status_code: 2, std_out: 'exiting 2\n', std_err: 'some error text\n' });
  assert.deepEqual(results[2], { status_code: 0, std_out: '{"schemaVersion":"1.0.0","host":"LAB-01"}\r\n', std_err: '' });
  // pywinrm's shell uses code page 437 and plain cmd: recorded as such
  assert.equal(server.received[before]!.via, 'cmd');
  assert.equal(server.openShells, 0);
});

test("pywinrm's unquoted run_cmd: --reason=Remote order splits and & calc runs a second command (upstream bugs the model reproduces)", async (t) => {
  if (!requirePywinrm(t)) return;
  const before = server.received.length;
  const [split, injected] = await runPywinrm(
    base({ ops: [{ kind: 'cmd', exe: EXE, args: ['power', 'shutdown', '--reason=Remote order'] }, { kind: 'cmd', exe: EXE, args: ['power', 'shutdown', '--reason=x & calc'] }] }),
    env,
  );
  assert.ok(split && 'status_code' in split && split.status_code === 0);
  assert.deepEqual(server.received[before]!.args, ['power', 'shutdown', '--reason=Remote', 'order']);
  assert.ok(injected && 'status_code' in injected, JSON.stringify(injected));
  assert.deepEqual(server.received.slice(before + 1).map((r) => [r.command, r.args]), [
    [EXE, ['power', 'shutdown', '--reason=x']],
    ['C:\\Windows\\System32\\calc.exe', []],
  ]);
});

test('pywinrm: cmd /c through run_cmd, quoted arguments as labops sends them, and a script the simulator cannot run', async (t) => {
  if (!requirePywinrm(t)) return;
  const results = await runPywinrm(
    base({
      ops: [
        { kind: 'cmd', exe: 'cmd', args: ['/c', EXE, 'status-json'] },
        { kind: 'cmd', exe: EXE, args: ['"session" "guard" "--message=Back in 5 minutes & more (really)"'] },
        // run_ps itself cannot show it: Debian's pywinrm 0.3 raises TypeError on any non-empty run_ps stderr (bytes vs str)
        { kind: 'cmd', exe: 'powershell', args: ['-encodedcommand', encodePowerShell('Restart-Computer -Force')] },
      ],
    }),
    env,
  );
  assert.deepEqual(results[0], { status_code: 0, std_out: JSON.stringify({ command: EXE, args: ['status-json'] }) + '\n', std_err: '' });
  assert.deepEqual(results[1], { status_code: 0, std_out: JSON.stringify({ command: EXE, args: ['session', 'guard', '--message=Back in 5 minutes & more (really)'] }) + '\n', std_err: '' });
  const ps = results[2] as { status_code: number; std_err: string };
  assert.equal(ps.status_code, 1);
  assert.match(ps.std_err, /^labops simulator: this PowerShell script is not supported by the simulator .*Restart-Computer -Force/);
});

test('pywinrm over HTTPS with Basic (certificate ignored, and validated against the simulator CA)', async (t) => {
  if (!requirePywinrm(t)) return;
  const https = `https://${address}:${server.httpsPort}/wsman`;
  for (const tls of [{ cert_validation: 'ignore' as const }, { cert_validation: 'validate' as const, ca: certs.caFile }]) {
    const results = await runPywinrm(base({ endpoint: https, transport: 'basic', ...tls, ops: [{ kind: 'cmd', exe: EXE, args: ['unicode'] }, { kind: 'cmd', exe: EXE, args: ['exit', '1'] }] }), env);
    assert.deepEqual(results[0], { status_code: 0, std_out: 'Grüße – 日本語 ✓\n', std_err: '' }, JSON.stringify(tls));
    assert.equal((results[1] as { status_code: number }).status_code, 1);
  }
});

test('pywinrm with a wrong password is rejected (401)', async (t) => {
  if (!requirePywinrm(t)) return;
  const [http] = await runPywinrm(base({ password: 'nope', ops: [{ kind: 'cmd', exe: EXE, args: [] }] }), env);
  assert.match((http as { error: string }).error, /InvalidCredentialsError/);
  const [basic] = await runPywinrm(base({ endpoint: `https://${address}:${server.httpsPort}/wsman`, transport: 'basic', cert_validation: 'ignore', password: 'nope', ops: [{ kind: 'cmd', exe: EXE, args: [] }] }), env);
  assert.match((basic as { error: string }).error, /InvalidCredentialsError/);
});
