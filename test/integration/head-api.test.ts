// The endpoints today's Lab Manager UI calls, against `labops daemon` started with the head ops-worker's
// environment (OPS_BIND/OPS_PORT, OPS_INTERNAL_AUTH_TOKEN_FILE, OPS_DYNAMIC_CONFIG, OPS_CREDENTIALS_PATH with a
// store written by Python's cryptography, OPS_HEARTBEAT_SSE_INTERVAL_SECONDS) and simulated stations. Each
// contract is driven by the examples and error texts of HEAD-API.md (a copy in test/fixtures/labgateway): the
// example's keys and value types, the exact error bodies. Plus the event stream end to end while the heartbeat
// loop polls, 50 open streams while the API keeps answering, and a clean close of every stream on shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { openDatabase } from '../../src/core/db/database.js';
import { freePort, randomLoopbackBase, waitFor } from '../support/services.js';
import { openSse, type SseStream } from '../support/sse.js';
import { tempDir } from '../support/tmp.js';

const DOC = readFileSync(new URL('../fixtures/labgateway/HEAD-API.md', import.meta.url), 'utf8');
const TOKEN = 'ops_0123456789abcdef0123456789abcdef';
const RID = '0x7e3c9a0d5e7b2c4a6f8e1d0b9c7a5e3f2d1c0b9a8e7f6d5c4b3a2f1e0d9c8b01';

/** The section of HEAD-API.md under a heading that starts with `title`, up to the next heading. */
function section(title: string): string {
  const m = new RegExp(`\\n(#{2,3}) ${title.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&')}`).exec(DOC);
  assert.ok(m, `HEAD-API.md has no section ${title}`);
  const next = DOC.slice(m.index + m[0].length).search(new RegExp(`\\n#{2,${m[1]!.length}} `));
  return DOC.slice(m.index, next < 0 ? undefined : m.index + m[0].length + next);
}

/** The first inline JSON example after `label` in a section (`Example:`, `Response 200:`, `200`). */
function example(title: string, label: string): Record<string, unknown> {
  const s = section(title);
  const m = new RegExp(`${label.replace(/[()]/g, '\\$&')}\\s*\`(\\{.*?\\})\``).exec(s);
  assert.ok(m, `${title}: no example after '${label}'`);
  return JSON.parse(m[1]!) as Record<string, unknown>;
}

/** An error text the document gives for a section (so the test cannot drift from it). */
function docSays(title: string, text: string): string {
  assert.ok(section(title).includes(text), `HEAD-API.md ${title} does not say '${text}'`);
  return text;
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every key of the example is present with the same JSON type (null in the example: any type). */
function hasShape(actual: unknown, expected: unknown, path = '$'): void {
  if (expected === null) return;
  assert.equal(typeOf(actual), typeOf(expected), `${path}: ${JSON.stringify(actual)?.slice(0, 80)}`);
  if (Array.isArray(expected) && expected.length && (actual as unknown[]).length) hasShape((actual as unknown[])[0], expected[0], `${path}[0]`);
  else if (typeOf(expected) === 'object') for (const [k, v] of Object.entries(expected as object)) hasShape((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
}

function http(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = { 'X-Ops-Internal-Token': TOKEN }): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const r = request(`${base}${path}`, { method, headers: { ...(data ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, json: text && res.headers['content-type']?.includes('json') ? JSON.parse(text) : {} }));
    });
    r.on('error', reject);
    r.end(data);
  });
}

const dir = tempDir('labops-head-');
let sim: Simulator;
let base = '';
let password = '';
const controller = new RunSignals();
let daemon: Promise<number>;
const io = IOStreams.test();
const dbUrl = `sqlite:${join(dir.path, 'ops.db')}`;
const dynamicPath = join(dir.path, 'data', 'hosts.json');
const storePath = join(dir.path, 'data', 'winrm-credentials.json');
const sse = (host: string, events = false) => openSse(`${base}/api/heartbeat/stream?host=${host}&include_events=${events}`, { 'X-Ops-Internal-Token': TOKEN });

/** The ops-worker's credential store, written by an independent Fernet implementation (Python's cryptography). */
function writeFernetStore(keyFile: string, ref: string, user: string, pw: string): void {
  const script = [
    'import json, sys',
    'from cryptography.fernet import Fernet',
    'key = Fernet.generate_key()',
    'open(sys.argv[1], "wb").write(key + b"\\n")',
    'token = Fernet(key).encrypt(json.dumps({"user": sys.argv[4], "password": sys.argv[5]}).encode()).decode()',
    'json.dump({"credentials": {sys.argv[3]: {"token": token}}}, open(sys.argv[2], "w"), indent=2)',
  ].join('\n');
  execFileSync('/usr/bin/python3', ['-c', script, keyFile, storePath, ref, user, pw]);
}

before(async () => {
  sim = await startSimulator({ hosts: 2, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, bootDelayMs: 100, timeScale: 100, poweredOn: true });
  password = readFileSync(sim.passwordFile!, 'utf8').trim();
  const [one, two] = JSON.parse(readFileSync(sim.inventoryPath, 'utf8')).hosts;
  const inventory = join(dir.path, 'hosts.json');
  writeFileSync(inventory, JSON.stringify({ hosts: [{ ...one, name: 'lab-ws-01', labs: ['1'] }] }));
  execFileSync('mkdir', ['-p', join(dir.path, 'data')]);
  // the second station was "provisioned through the UI": in the dynamic catalog, its credential in the store
  const { winrm_user: user, winrm_pass: _p, ...bare } = two;
  writeFileSync(dynamicPath, JSON.stringify({ hosts: [{ ...bare, name: 'lab-ws-02', credential_ref: 'Bench-B', labs: ['2'] }] }));
  const keyFile = join(dir.path, 'ops_secrets_key');
  writeFernetStore(keyFile, 'bench-b', user, password);
  const tokenFile = join(dir.path, 'ops_internal_auth_token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const env = { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path };
  const io0 = IOStreams.test();
  assert.equal(await run(['--db', dbUrl, 'db', 'migrate', '--only', 'gateway'], { io: io0, env }), 0, io0.errText());
  const db = await openDatabase(dbUrl);
  await db.kysely.insertInto('lab_reservations').values({ transaction_hash: RID, lab_id: '1', start_time: '2026-08-24 08:00:00', end_time: '2026-08-24 09:00:00', status: 'ACTIVE' }).execute();
  await db.close();
  const port = await freePort();
  const config = join(dir.path, 'config.json');
  writeFileSync(config, JSON.stringify({ wol: { interval: '300ms', timeout: '300ms' }, api: { 'stream-keepalive': '1s' } }));
  const upstreamEnv = {
    OPS_BIND: '127.0.0.1',
    OPS_PORT: String(port),
    OPS_CONFIG: inventory,
    OPS_DYNAMIC_CONFIG: dynamicPath,
    OPS_CREDENTIALS_PATH: storePath,
    OPS_SECRETS_KEY_FILE: keyFile,
    OPS_INTERNAL_AUTH_TOKEN_FILE: tokenFile,
    OPS_POLL_ENABLED: 'true',
    OPS_POLL_INTERVAL: '2',
    OPS_HEARTBEAT_SSE_INTERVAL_SECONDS: '2',
    OPS_RESERVATION_AUTOMATION: 'false',
    MYSQL_DSN: dbUrl,
    GUAC_API_URL: 'http://guacamole:8080/guacamole/api',
    BASYX_AAS_URL: 'http://basyx-aas-server:8081',
  };
  daemon = run(['--config', config, '--json', 'daemon', '--only', 'api,heartbeat'], { io, env: { ...env, ...upstreamEnv }, signals: controller });
  await waitFor(() => /listening/.test(io.outText()), 'the API to listen', 20_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${io.errText()}`);
  });
  base = JSON.parse(io.outText().trim().split('\n')[0]!).listening;
  assert.equal(base, `http://127.0.0.1:${port}`, 'OPS_BIND and OPS_PORT are honoured');
});

after(async () => {
  if (daemon) {
    controller.receive('SIGINT');
    await daemon;
  }
  await sim?.close();
  dir.cleanup();
});

describe('the head environment at start', () => {
  test('variables of features labops does not provide are named once, never their values', () => {
    const log = io.errText();
    assert.match(log, /not provided by labops, so not used: Guacamole[^\n]*GUAC_API_URL/);
    assert.match(log, /not provided by labops, so not used: AAS \(BaSyx\) sync: BASYX_AAS_URL/);
    assert.doesNotMatch(log, /basyx-aas-server|guacamole:8080/);
    assert.doesNotMatch(log, new RegExp(TOKEN));
  });
});

describe('HEAD-API §3 contracts', () => {
  test('GET /health: the shared keys of the head example', async () => {
    const r = await http(base, 'GET', '/health', undefined, {});
    assert.equal(r.status, 200, r.text);
    const ex = example('3.1 GET `/health`', 'Example:');
    for (const k of ['db', 'hosts_loaded', 'status']) hasShape(r.json[k], ex[k], k);
    assert.equal(r.json.hosts_loaded, 2);
  });

  test('GET /api/hosts: the example\'s shape, the dynamic catalog merged, store credentials, live state, no secret', async () => {
    await waitFor(async () => ((await http(base, 'GET', '/api/hosts')).json.hosts as { state: unknown }[]).every((h) => h.state !== null), 'both hosts polled by the heartbeat loop');
    const r = await http(base, 'GET', '/api/hosts');
    assert.equal(r.status, 200, r.text);
    const ex = example('3.2 GET `/api/hosts`', 'Example:');
    assert.deepEqual(Object.keys(r.json).sort(), Object.keys(ex).sort());
    hasShape(r.json, { ...ex, guacamoleUnmatched: [], guacamoleError: 'x' });
    const hosts = r.json.hosts as Record<string, unknown>[];
    assert.deepEqual(hosts.map((h) => h.name), ['lab-ws-01', 'lab-ws-02'], 'base catalog first, then the dynamic one');
    for (const k of Object.keys((ex.hosts as object[])[0]!)) assert.ok(k in hosts[0]!, `hosts[].${k}`);
    assert.equal(hosts[1]!.credentialRef, 'bench-b', 'credential_ref, lower-cased');
    assert.equal(hosts[0]!.credentialRef, sim.stations[0]!.spec.address, 'else the address');
    assert.deepEqual(hosts.map((h) => h.winrmConfigured), [true, true], 'inline references and the Fernet store both count');
    assert.deepEqual(hosts[0]!.guacamole, { connections: [], status: 'missing' });
    assert.equal(r.json.guacamoleAvailable, false);
    const state = hosts[0]!.state as Record<string, unknown>;
    assert.equal(state.ready, true);
    assert.match(String(state.heartbeatAt), /\+00:00$/);
    assert.ok(!r.text.includes(password) && !r.text.includes('winrm_pass') && !r.text.includes('token'));
  });

  test('POST /api/heartbeat/poll: the example\'s keys; a host only the Fernet store has credentials for', async () => {
    const ex = example('3.8 POST `/api/heartbeat/poll`', 'Example (heartbeat abridged):');
    for (const host of ['lab-ws-01', 'LAB-WS-02']) {
      const r = await http(base, 'POST', '/api/heartbeat/poll', { host });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), Object.keys(ex).sort());
      hasShape(r.json, { ...ex, heartbeat: { schemaVersion: '', status: { localModeEnabled: false }, summary: { ready: true }, timestamp: '' } });
      assert.equal(r.json.host, host, 'the host as sent');
    }
    const none = await http(base, 'POST', '/api/heartbeat/poll', {});
    assert.deepEqual([none.status, none.json], [400, { error: docSays('3.8 POST `/api/heartbeat/poll`', 'host is required') }]);
    const unknown = await http(base, 'POST', '/api/heartbeat/poll', { host: 'nope' });
    assert.deepEqual([unknown.status, unknown.json], [404, { error: "host 'nope' not found in config" }]);
  });

  test('POST /api/hosts/local-mode: writes and removes local-mode.flag over WinRM; the heartbeat follows', async () => {
    const title = '3.6 POST `/api/hosts/local-mode`';
    const st = sim.stations[0]!;
    const on = await http(base, 'POST', '/api/hosts/local-mode', { host: 'LAB-WS-01', enabled: true });
    assert.equal(on.status, 200, on.text);
    hasShape(on.json, example(title, '200'));
    assert.deepEqual(on.json, { host: 'LAB-WS-01', localModeEnabled: true }, 'the host as sent');
    assert.ok(st.runtime!.files.localModeFlagExists());
    const polled = await http(base, 'POST', '/api/heartbeat/poll', { host: 'lab-ws-01' });
    assert.equal(((polled.json.heartbeat as Record<string, Record<string, unknown>>).status!).localModeEnabled, true);
    // the station also honours the flag in its legacy folder: switching off removes both
    assert.ok(st.runtime!.writeFile('C:\\LabStation\\data\\local-mode.flag', '1'));
    const off = await http(base, 'POST', '/api/hosts/local-mode', { host: 'lab-ws-01', enabled: 'off' });
    assert.deepEqual([off.status, off.json], [200, { host: 'lab-ws-01', localModeEnabled: false }]);
    assert.ok(!st.runtime!.files.localModeFlagExists());
    const cases: [Record<string, unknown>, number, string][] = [
      [{ enabled: true }, 400, docSays(title, 'host is required')],
      [{ host: 'lab-ws-01' }, 400, docSays(title, 'enabled is required')],
      [{ host: '', enabled: true }, 404, "host '' not found"],
      [{ host: 'nope', enabled: true }, 404, "host 'nope' not found"],
    ];
    for (const [body, status, error] of cases) {
      const r = await http(base, 'POST', '/api/hosts/local-mode', body);
      assert.deepEqual([r.status, r.json], [status, { error }], JSON.stringify(body));
    }
    assert.ok(!st.runtime!.files.localModeFlagExists(), 'nothing written on a refused request');
  });

  test("POST /api/winrm: the UI's three buttons, the example's shape", async () => {
    const ex = example('3.10 POST `/api/winrm`', 'Response 200:');
    const buttons: [string, string[]][] = [
      ['prepare-session', ['--guard-grace=90']],
      ['power', ['shutdown', '--delay=60', '--reason=Remote order']],
    ];
    const st = sim.stations[1]!;
    for (const [command, args] of buttons) {
      const r = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-02', command, args });
      assert.equal(r.status, 200, r.text);
      hasShape(r.json, ex);
      assert.equal(r.json.exit_code, 0, r.text);
    }
    // labops quotes the arguments: the reason reaches LabStation.exe as one token (upstream split it in two)
    assert.deepEqual(st.runtime!.receivedArgv.at(-1), ['power', 'shutdown', '--delay=60', '--reason=Remote order']);
    await waitFor(() => st.runtime!.power === 'off', 'the shutdown', 20_000);
    await st.powerOn();
  });

  test('POST /api/wol: the example\'s shape; the head worker\'s 400 bodies', async () => {
    const title = '3.9 POST `/api/wol`';
    const r = await http(base, 'POST', '/api/wol', { host: 'lab-ws-01' });
    assert.equal(r.status, 200, r.text);
    hasShape(r.json, example(title, 'Response 200:'));
    const bad = await http(base, 'POST', '/api/wol', { mac: '00:11:22:33:44:55', ping_target: '127.0.0.1; whoami' });
    assert.deepEqual([bad.status, bad.json], [400, { error: docSays(title, 'ping_target is invalid') }]);
  });

  test('GET /api/operations/recent: newest first, the host of each row, pagination; lenient paging, 404 for an unknown host', async () => {
    const title = '3.11 GET `/api/operations/recent`';
    const start = await http(base, 'POST', '/api/reservations/start', { reservationId: RID, host: 'lab-ws-01', labId: '1', prepare: false });
    assert.equal(start.status, 200, start.text);
    const end = await http(base, 'POST', '/api/reservations/end', { reservation_id: RID, host: 'lab-ws-01', release: false });
    assert.equal(end.status, 200, end.text);
    const r = await http(base, 'GET', '/api/operations/recent?limit=8&offset=0');
    assert.equal(r.status, 200, r.text);
    const fields = /`operations\[\]`: `\{([^}]*)\}`/.exec(section(title))![1]!.split(',').map((f) => f.trim().split(':')[0]!);
    const ops = r.json.operations as Record<string, unknown>[];
    for (const op of ops) for (const f of [...fields, 'host']) assert.ok(f in op, `operations[].${f}`);
    assert.equal(ops[0]!.host, 'lab-ws-01', 'the host the UI shows (upstream never sent it)');
    assert.match(String(ops[0]!.createdAt), /\+00:00$/);
    assert.ok(String(ops[0]!.createdAt) >= String(ops.at(-1)!.createdAt), 'newest first');
    const keys = /`pagination`: `\{([^}]*)\}`/.exec(section(title))![1]!.split(',').map((f) => f.trim());
    assert.deepEqual(Object.keys(r.json.pagination as object).sort(), keys.sort());
    const lenient = await http(base, 'GET', '/api/operations/recent?limit=many&offset=-3&reservationId=' + RID);
    assert.deepEqual([lenient.status, (lenient.json.pagination as Record<string, unknown>).limit, (lenient.json.pagination as Record<string, unknown>).offset], [200, 100, 0]);
    const filtered = await http(base, 'GET', `/api/operations/recent?host=LAB-WS-01&reservation_id=${RID}`);
    assert.ok((filtered.json.operations as object[]).length >= 1);
    const unknown = await http(base, 'GET', '/api/operations/recent?host=nope');
    assert.deepEqual([unknown.status, unknown.json], [404, { error: "host 'nope' not found" }]);
  });

  test('GET /api/reservations/timeline: the reservation_id alias; a limit that is not a number falls back', async () => {
    const r = await http(base, 'GET', `/api/reservations/timeline?reservation_id=${RID}&limit=all`);
    assert.equal(r.status, 200, r.text);
    assert.equal((r.json.pagination as Record<string, unknown>).limit, 100);
  });

  test('POST /api/hosts/reload: the example', async () => {
    const r = await http(base, 'POST', '/api/hosts/reload');
    assert.deepEqual([r.status, r.json], [200, { ...example('3.7 POST `/api/hosts/reload`', '200'), hosts: 2 }]);
  });

  test('upstream features labops does not provide: 501 with the feature, nothing written; the token gate first', async () => {
    const calls: [string, string, unknown, string][] = [
      ['POST', '/api/hosts/discover', { connectionId: 12 }, 'host-discovery'],
      ['POST', '/api/hosts/provision', { connectionId: 12, name: 'bench-c', address: '10.7.74.22', labs: ['3'] }, 'host-provisioning'],
      ['POST', '/api/hosts/winrm-credentials', { credentialRef: '10.7.74.22', user: 'x', password: 'secret-pw-123' }, 'winrm-credential-store'],
      ['POST', '/api/aas-sync', { host: 'lab-ws-01' }, 'aas-sync'],
      ['POST', '/aas-admin/lab/1/sync', {}, 'aas-sync'],
      ['GET', '/api/power/controllers', undefined, 'power-control'],
      ['POST', '/api/labs/1/power/start', { reservationId: RID }, 'power-control'],
      ['GET', '/internal/guacamole/connections', undefined, 'guacamole'],
      ['POST', '/internal/guacamole-token-revocations', {}, 'guacamole'],
      ['POST', '/internal/session-observations', {}, 'session-observations'],
    ];
    const before = readFileSync(dynamicPath, 'utf8') + readFileSync(storePath, 'utf8');
    for (const [method, path, body, feature] of calls) {
      const r = await http(base, method, path, body);
      assert.equal(r.status, 501, `${path}: ${r.text}`);
      assert.deepEqual([r.json.feature, r.json.success, r.json.code], [feature, false, 'NOT_PROVIDED'], path);
      assert.match(String(r.json.error), /not provided by labops/);
    }
    assert.equal(readFileSync(dynamicPath, 'utf8') + readFileSync(storePath, 'utf8'), before);
    assert.ok(!existsSync(`${storePath}.tmp`));
    const gated = await http(base, 'GET', '/api/power/controllers', undefined, {});
    assert.deepEqual([gated.status, gated.json], [401, { error: 'Unauthorized', success: false }]);
  });
});

describe('GET /api/heartbeat/stream (HEAD-API §4)', () => {
  const title = '4. Server-Sent Events';
  const wire = /```\n(event: heartbeat[\s\S]*?)```/.exec(DOC)![1]!;
  const keysOf = (event: string) => [...new RegExp(`event: ${event}\\ndata: (\\{.*\\})`).exec(wire)![1]!.matchAll(/"(\w+)": /g)].map((m) => m[1]);

  test('while the heartbeat loop polls, a stream sees the station\'s event: heartbeat frames in the head format', async () => {
    const st = sim.stations[0]!;
    const s = await sse('lab-ws-01', true);
    try {
      assert.equal(s.status, 200);
      assert.equal(s.headers['content-type'], 'text/event-stream');
      assert.equal(s.headers['cache-control'], 'no-cache');
      const first = await s.waitFor((f) => f.event === 'heartbeat');
      // data: one line, Python's json.dumps separators, keys in the head worker's order, the catalog name
      assert.ok(!first.data!.includes('\n'));
      assert.match(first.data!, /^\{"heartbeat": \{/);
      assert.deepEqual(Object.keys(JSON.parse(first.data!)), keysOf('heartbeat').slice(0, 1).concat(['last_event', 'host']));
      assert.equal(JSON.parse(first.data!).host, 'lab-ws-01');
      // a local user is evicted by the guard of the UI's Prepare: the station's forced-logoff event reaches the stream
      st.runtime!.machine.logon('teacher', { sessionName: 'rdp-tcp#7' });
      const prepare = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-01', command: 'prepare-session', args: ['--guard-grace=90'] });
      assert.equal(prepare.json.exit_code, 0, prepare.text);
      const seen = await s.waitFor((f) => f.event === 'heartbeat' && (JSON.parse(f.data!).last_event as { user?: string } | null)?.user === 'teacher');
      assert.equal(JSON.parse(seen.data!).last_event.source, 'session-guard');
      // idle between polls: keep-alive comments (api.stream-keepalive 1s, polls every 2s + the poll)
      await s.waitFor((f) => f.event === undefined && f.comments.includes('keep-alive'));
    } finally {
      s.close();
    }
  });

  test('a poll that fails is an `error` frame in the head format and the stream goes on; 400/404 before it starts', async () => {
    const st = sim.stations[1]!;
    await st.powerOff();
    const s = await sse('lab-ws-02');
    try {
      const e = await s.waitFor((f) => f.event === 'error');
      const data = JSON.parse(e.data!);
      assert.deepEqual(Object.keys(data), keysOf('error'));
      assert.deepEqual([data.error, data.code, data.host], ['Internal server error', 'INTERNAL_ERROR', 'lab-ws-02']);
      await st.powerOn();
      await s.waitFor((f) => f.event === 'heartbeat');
      assert.equal(s.ended, undefined, 'the stream went on after the error');
    } finally {
      s.close();
      await st.powerOn();
    }
    const none = await openSse(`${base}/api/heartbeat/stream`, { 'X-Ops-Internal-Token': TOKEN });
    assert.deepEqual([none.status, JSON.parse(none.body)], [400, { error: docSays(title, 'host is required') }]);
    const unknown = await openSse(`${base}/api/heartbeat/stream?host=nope`, { 'X-Ops-Internal-Token': TOKEN });
    assert.deepEqual([unknown.status, JSON.parse(unknown.body)], [404, { error: "host 'nope' not found" }]);
    const anonymous = await openSse(`${base}/api/heartbeat/stream?host=lab-ws-01`);
    assert.equal(anonymous.status, 401);
  });

  test('50 open streams: every one gets its heartbeat while the API keeps answering', async () => {
    const streams: SseStream[] = [];
    try {
      for (let i = 0; i < 50; i++) streams.push(await sse(i % 2 ? 'lab-ws-02' : 'lab-ws-01'));
      assert.ok(streams.every((s) => s.status === 200));
      for (let round = 0; round < 5; round++) {
        assert.equal((await http(base, 'GET', '/health', undefined, {})).status, 200);
        assert.equal((await http(base, 'GET', '/api/hosts')).status, 200);
        assert.equal((await http(base, 'POST', '/api/heartbeat/poll', { host: 'lab-ws-01', include_events: false })).status, 200);
      }
      await Promise.all(streams.map((s) => s.waitFor((f) => f.event === 'heartbeat')));
      assert.ok(streams.every((s) => s.ended === undefined), 'all 50 still open');
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('shutdown ends every open stream cleanly (the final chunk, not a cut connection)', async () => {
    const streams = [await sse('lab-ws-01'), await sse('lab-ws-02', true)];
    await Promise.all(streams.map((s) => s.waitFor((f) => f.event === 'heartbeat')));
    controller.receive('SIGTERM');
    assert.equal(await daemon, 0);
    daemon = undefined as unknown as Promise<number>;
    await waitFor(() => streams.every((s) => s.ended !== undefined), 'the streams to end');
    assert.deepEqual(streams.map((s) => s.ended), ['end', 'end']);
  });
});
