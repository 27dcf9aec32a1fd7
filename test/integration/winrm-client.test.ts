// labops' WinRM client against the simulated WinRM server on a random loopback address: HTTP + NTLM + message
// encryption, HTTPS + Basic / NTLM (with channel binding), and every failure mode with its typed error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { AuthFailed, Interrupted, OperationFailed, Unreachable, UsageError } from '../../src/domain/errors.js';
import { NtlmInitiator } from '../../src/core/ntlm/initiator.js';
import { WinRMClient, type WinRMClientOptions } from '../../src/core/winrm/client.js';
import { envelope, createShellBody, ACTION, RESOURCE_CMD, parseFault, parseSoap } from '../../src/core/winrm/soap.js';
import { negotiateToken } from '../../src/core/winrm/transport.js';
import { SimWinRMServer, TrivialHandler, ensureSimCertificates, type SimCertificates } from '../../src/sim/winrm/index.js';
import { freePort, randomLoopbackBase, requireBinary, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const USER = 'labadmin';
const PASSWORD = 'S3cret!pa55';
let address: string;
let certs: SimCertificates;
let server: SimWinRMServer;
let handler: TrivialHandler;
const dir = tempDir('labops-winrm-');

before(async () => {
  address = randomLoopbackBase();
  requireBinary(undefined, 'openssl', ['/usr/bin/openssl']);
  certs = await ensureSimCertificates(dir.path, [address]);
  handler = new TrivialHandler();
  handler.files.set('c:\\labstation\\data\\heartbeat.json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"host":"Grüße ✓","ok":true}\r\n')]));
  server = new SimWinRMServer({ address, httpPort: 0, httpsPort: 0, tls: { cert: certs.cert, key: certs.key }, users: { [USER]: PASSWORD }, handler });
  await server.start();
});
after(async () => {
  await server.stop();
  dir.cleanup();
});

function client(over: Partial<WinRMClientOptions> = {}): WinRMClient {
  const ssl = over.ssl ?? false;
  return new WinRMClient({ host: address, port: ssl ? server.httpsPort : server.httpPort, ssl, transport: 'ntlm', user: USER, password: PASSWORD, ca: certs.ca, ...over });
}

const EXE = 'C:\\LabStation\\LabStation.exe';
const TRICKY = ['--reason=Remote order & calc', "it's 'quoted'", '$(Stop-Computer)', 'ünïcødé 日本語 ✓', '', '^& | > < (x)', 'C:\\Lab Data\\', '\t tab'];

for (const [name, opts] of [
  ['HTTP + NTLM + message encryption', {}],
  ['HTTPS + NTLM (channel binding)', { ssl: true }],
  ['HTTPS + Basic', { ssl: true, transport: 'basic' as const }],
] as Array<[string, Partial<WinRMClientOptions>]>) {
  test(`${name}: LabStation.exe arguments arrive exactly, one each; shell cleaned up`, async () => {
    const c = client(opts);
    try {
      const before = server.received.length;
      const r = await c.runCommand(EXE, ['power', 'shutdown', ...TRICKY]);
      assert.equal(r.exitCode, 0);
      // one program started, by cmd.exe, no PowerShell
      assert.equal(server.received.length - before, 1);
      const last = server.received.at(-1)!;
      assert.equal(last.via, 'cmd');
      assert.equal(last.command, EXE);
      assert.deepEqual(last.args, ['power', 'shutdown', ...TRICKY]);
      assert.deepEqual(JSON.parse(r.stdout).args, ['power', 'shutdown', ...TRICKY]);
      // a second command reuses the authenticated connection
      const r2 = await c.runCommand(EXE, ['exit', '2']);
      assert.equal(r2.exitCode, 2);
      assert.equal(r2.stdout, 'exiting 2\n');
      assert.equal(r2.stderr, 'some error text\n');
      assert.equal(server.openShells, 0);
    } finally {
      c.close();
    }
  });
}

test('non-ASCII output and output split over several stream chunks decode intact', async () => {
  const c = client();
  try {
    assert.equal((await c.runCommand(EXE, ['unicode'])).stdout, 'Grüße – 日本語 ✓\n');
    const big = await c.runCommand(EXE, ['big', '60000']);
    assert.equal(big.stdout, 'x' + 'é'.repeat(60000));
  } finally {
    c.close();
  }
});

test('an argument that cannot pass exactly is refused before anything is sent (UsageError naming it)', async () => {
  const c = client();
  try {
    const before = server.events.length;
    for (const [args, want] of [
      [['power', 'shutdown', '--reason=50% done'], /argument 3 "--reason=50% done" contains '%'/],
      [['session', 'guard', '--message=a\nb'], /argument 3 .* contains a line feed/],
      [['x', '\u0000'], /argument 2 .* contains NUL/],
      [['x', 'y'.repeat(8000)], /makes the command line \d+ characters long/],
    ] as const) {
      await assert.rejects(c.runCommand(EXE, [...args]), (e: unknown) => e instanceof UsageError && want.test(e.message));
    }
    await assert.rejects(c.runCommand('C:\\Program Files\\LabStation\\LabStation.exe', ['status']), (e: unknown) => e instanceof UsageError && /contains a space/.test(e.message));
    assert.equal(server.events.length, before, 'no WS-Man request at all');
  } finally {
    c.close();
  }
});

test('cmd /c through the cmd shell, and a PowerShell script the simulator cannot run says so', async () => {
  const c = client();
  try {
    const r = await c.runCmd('cmd', `/c ${EXE} "status" "a b" & echo done`);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, `${JSON.stringify({ command: EXE, args: ['status', 'a b'] })}\ndone\r\n`);
    assert.deepEqual(server.received.slice(-2).map((x) => x.command), ['C:\\Windows\\System32\\cmd.exe', EXE]);
    const ps = await c.runPowerShell('Get-Process');
    assert.equal(ps.exitCode, 1);
    assert.match(ps.stderr, /^labops simulator: this PowerShell script is not supported by the simulator/);
  } finally {
    c.close();
  }
});

test('a shell whose ResourceURI the simulator does not implement (PowerShell remoting) gets the Windows fault at Create', async () => {
  const psrp = 'http://schemas.microsoft.com/powershell/Microsoft.PowerShell';
  const { xml } = envelope({ to: 'x', action: ACTION.create, operationTimeoutMs: 20_000 }, createShellBody());
  const body = xml.replace(RESOURCE_CMD, psrp);
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = https.request(
      { host: address, port: server.httpsPort, path: '/wsman', method: 'POST', ca: certs.ca, headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, 'Content-Type': 'application/soap+xml;charset=UTF-8', 'Content-Length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(reply.status, 500);
  const fault = parseFault(parseSoap(reply.text))!;
  assert.equal(fault.wsmanCode, 2150858811);
  assert.equal(fault.subcode, 'w:InvalidResourceURI');
  assert.match(fault.reason, /The resource URI \(http:\/\/schemas\.microsoft\.com\/powershell\/Microsoft\.PowerShell\) was not found in the WS-Management catalog/);
  assert.equal(server.openShells, 0, 'no shell was created');
});

test('a closed client leaves its authenticated connection to the next client of the same host and credentials', async () => {
  const before = server.ntlmLogons;
  for (let i = 0; i < 3; i++) {
    const c = client();
    try {
      assert.equal((await c.runCommand(EXE, ['status'])).exitCode, 0);
    } finally {
      c.close();
      c.close();
    }
  }
  // at most one NTLM handshake for three clients in turn (none when an earlier test left the connection)
  const inTurn = server.ntlmLogons - before;
  assert.ok(inTurn <= 1, `${inTurn} handshakes`);
  // two at once cannot share a connection; other credentials never get one
  const [a, b] = [client(), client()];
  try {
    await Promise.all([a.runCommand(EXE, ['sleep', '50']), b.runCommand(EXE, ['sleep', '50'])]);
  } finally {
    a.close();
    b.close();
  }
  assert.equal(server.ntlmLogons - before - inTurn, 1, 'the second of two clients at once authenticates its own connection');
  const wrong = client({ password: 'not-it' });
  try {
    await assert.rejects(wrong.runCommand(EXE, ['status']), AuthFailed);
  } finally {
    wrong.close();
  }
});

test('readFiles reads several files in one command: bytes, missing, and a per-file error', async () => {
  const c = client();
  const realRead = handler.readFile.bind(handler);
  handler.readFile = async (p: string) => {
    if (/locked/.test(p)) throw new Error("Access to the path 'C:\\locked.ini' is denied.");
    return realRead(p);
  };
  try {
    const before = server.received.length;
    const r = await c.readFiles(['C:\\LabStation\\data\\heartbeat.json', 'C:\\missing.json', 'C:\\locked.ini']);
    assert.deepEqual(r, [{ bytes: handler.files.get('c:\\labstation\\data\\heartbeat.json') }, { missing: true }, { error: "Access to the path 'C:\\locked.ini' is denied." }]);
    assert.equal(server.received.length - before, 1, 'one command for the three files');
  } finally {
    handler.readFile = realRead;
    c.close();
  }
});

test('readFileBytes returns the exact bytes (BOM and UTF-8 kept)', async () => {
  const c = client();
  try {
    const bytes = await c.readFileBytes('C:\\LabStation\\data\\heartbeat.json');
    assert.deepEqual(bytes, handler.files.get('c:\\labstation\\data\\heartbeat.json'));
    await assert.rejects(c.readFileBytes('C:\\missing.json'), (e: unknown) => e instanceof OperationFailed && /Could not find file 'C:\\missing.json'/.test((e as Error).message));
  } finally {
    c.close();
  }
});

test('wrong password: AuthFailed listing the usual causes, password never in the message', async () => {
  for (const opts of [{}, { ssl: true, transport: 'basic' as const }]) {
    const c = client({ ...opts, password: 'Wr0ng-Secret' });
    try {
      await assert.rejects(c.runCommand(EXE, []), (e: unknown) => {
        assert.ok(e instanceof AuthFailed, String(e));
        assert.match(e.message, /HTTP 401/);
        assert.match(e.message, /LocalAccountTokenFilterPolicy/);
        assert.ok(!e.message.includes('Wr0ng-Secret') && !JSON.stringify(e.context).includes('Wr0ng-Secret'));
        return true;
      });
    } finally {
      c.close();
    }
  }
});

test('untrusted certificate: AuthFailed with a --ca hint; --insecure connects', async () => {
  const c = client({ ssl: true, ca: undefined });
  try {
    await assert.rejects(c.runCommand(EXE, []), (e: unknown) => e instanceof AuthFailed && /not trusted/.test(e.message) && /--ca/.test(e.message));
  } finally {
    c.close();
  }
  const insecure = client({ ssl: true, ca: undefined, insecure: true });
  try {
    assert.equal((await insecure.runCommand(EXE, ['exit', '0'])).exitCode, 0);
  } finally {
    insecure.close();
  }
});

test('Basic over plain HTTP is refused by the client (usage) and by the server (401)', async () => {
  assert.throws(() => client({ transport: 'basic' }), UsageError);
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: address, port: server.httpPort, path: '/wsman', method: 'POST', headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, 'Content-Length': '0' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 401);
});

test('unencrypted SOAP after a successful NTLM handshake on HTTP is refused (401)', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (headers: Record<string, string>, body = '') =>
    new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: address, port: server.httpPort, path: '/wsman', method: 'POST', agent, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      });
      req.on('error', reject);
      req.end(body);
    });
  try {
    const ini = new NtlmInitiator({ username: USER, password: PASSWORD });
    const r1 = await post({ Authorization: `Negotiate ${ini.negotiate().toString('base64')}` });
    const auth = ini.authenticate(negotiateToken(r1.headers['www-authenticate'])!);
    const r2 = await post({ Authorization: `Negotiate ${auth.toString('base64')}` });
    assert.equal(r2.statusCode, 200);
    const { xml } = envelope({ to: 'x', action: ACTION.create, operationTimeoutMs: 20_000 }, createShellBody());
    const r3 = await post({ 'Content-Type': 'application/soap+xml;charset=UTF-8' }, xml);
    assert.equal(r3.statusCode, 401);
  } finally {
    agent.destroy();
  }
});

test('slow command: Receive retries on OperationTimeout until the command finishes', async () => {
  const c = client({ operationTimeoutMs: 200 });
  try {
    const before = server.events.length;
    const r = await c.runCommand(EXE, ['sleep', '900'], { deadlineMs: 30_000 });
    assert.equal(r.exitCode, 0);
    const receives = server.events.slice(before).filter((e) => e.action === 'Receive').length;
    assert.ok(receives >= 2, `expected several Receive calls, got ${receives}`);
  } finally {
    c.close();
  }
});

test('host hangs mid-command: deadline error (Unreachable) and the shell is signalled and deleted', async () => {
  const c = client({ operationTimeoutMs: 300 });
  try {
    const before = server.events.length;
    await assert.rejects(c.runCommand(EXE, ['hang'], { deadlineMs: 1200 }), (e: unknown) => e instanceof Unreachable && /did not finish within 1\.2 s/.test(e.message));
    const ev = server.events.slice(before);
    const shellId = ev.find((e) => e.action === 'Create')!.shellId;
    assert.ok(ev.some((e) => e.action === 'Signal' && e.shellId === shellId), 'Signal received');
    assert.ok(ev.some((e) => e.action === 'Delete' && e.shellId === shellId), 'Delete received');
    assert.equal(server.openShells, 0);
  } finally {
    c.close();
  }
});

test('abort via AbortSignal: Interrupted, and the shell is still signalled and deleted', async () => {
  const c = client({ operationTimeoutMs: 5_000 });
  const ac = new AbortController();
  try {
    const before = server.events.length;
    const p = c.runCommand(EXE, ['hang'], { signal: ac.signal, deadlineMs: 60_000 });
    await waitFor(() => server.events.slice(before).some((e) => e.action === 'Receive'), 'the first Receive');
    ac.abort();
    await assert.rejects(p, Interrupted);
    const ev = server.events.slice(before);
    assert.ok(ev.some((e) => e.action === 'Signal'));
    assert.ok(ev.some((e) => e.action === 'Delete'));
    assert.equal(server.openShells, 0);
  } finally {
    c.close();
  }
});

test('malformed SOAP from the server: OperationFailed with a clear message; shell cleaned up', async () => {
  const tampered = new SimWinRMServer({
    address,
    httpPort: 0,
    users: { [USER]: PASSWORD },
    handler,
    tamper: (action, xml) => (action === 'Receive' ? '<s:Envelope><s:Body><rsp:ReceiveResponse>' : xml),
  });
  await tampered.start();
  const c = new WinRMClient({ host: address, port: tampered.httpPort, transport: 'ntlm', user: USER, password: PASSWORD });
  try {
    await assert.rejects(c.runCommand(EXE, []), (e: unknown) => e instanceof OperationFailed && /malformed SOAP from .*not well-formed XML/.test(e.message));
    assert.deepEqual(
      tampered.events.map((e) => e.action),
      ['Create', 'Command', 'Receive', 'Signal', 'Delete'],
    );
  } finally {
    c.close();
    await tampered.stop();
  }
});

test('connection refused: Unreachable', async () => {
  const port = await freePort(address);
  const c = new WinRMClient({ host: address, port, transport: 'ntlm', user: USER, password: PASSWORD });
  try {
    await assert.rejects(c.runCommand(EXE, []), (e: unknown) => e instanceof Unreachable && /connection refused/.test(e.message));
  } finally {
    c.close();
  }
});
