// The ops-worker HTTP API served by `labops daemon --only api`, against simulated stations: every example of
// ops-worker.http-examples.json that applies to labops is replayed and its body compared (values that depend on
// the environment, like durations, addresses and MACs, by type), plus the security improvements.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { openDatabase } from '../../src/core/db/database.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

type Example = { version?: string; request?: Record<string, unknown>; status: number; response: Record<string, unknown>; note?: string };
const EXAMPLES = JSON.parse(readFileSync(new URL('../fixtures/labgateway/ops-worker.http-examples.json', import.meta.url), 'utf8')) as Record<string, Example[]>;
const RID = '0x3f1c9a0d5e7b2c4a6f8e1d0b9c7a5e3f2d1c0b9a8e7f6d5c4b3a2f1e0d9c8b7a';

/**
 * Examples that labops does not replay, and why. Everything else in the file is replayed below.
 * - head-only routes outside this issue: /api/operations/recent, /api/hosts/local-mode, /api/heartbeat/stream;
 *   /api/hosts/quarantine existed only from 6072396 to dcd8f48 (removed upstream).
 * - head /health: its extra keys report Guacamole and secrets-store checks labops does not have.
 * - v0 500 with the raw exception text: labops answers with the head form (no exception text leaks).
 * - head 503 "Ops internal authentication is not configured": the token is optional in labops (api.token).
 */
const OUT_OF_SCOPE = ['GET /api/operations/recent?limit=&offset=&host=&reservationId=', 'POST /api/hosts/quarantine', 'POST /api/hosts/local-mode', 'GET /api/heartbeat/stream?host=lab-ws-01&include_events=true'];

/** Keys whose values depend on the run (timings, the simulator's addresses, MACs and ports): compared by type. */
const BY_TYPE: Record<string, (v: unknown) => boolean> = {
  duration_ms: (v) => Number.isInteger(v),
  durationMs: (v) => Number.isInteger(v),
  ping_target: (v) => typeof v === 'string',
  pingTarget: (v) => typeof v === 'string',
  mac: (v) => typeof v === 'string',
  port: (v) => Number.isInteger(v),
  broadcast: (v) => v === null || typeof v === 'string',
  waitSeconds: (v) => typeof v === 'number',
  attemptsUsed: (v) => Number.isInteger(v),
  requestId: (v) => typeof v === 'string' && v.length > 0,
  createdAt: (v) => typeof v === 'string' && /\+00:00$/.test(v),
};

function compare(actual: unknown, expected: unknown, path = '$'): void {
  if (expected === null || typeof expected !== 'object') {
    assert.deepEqual(actual, expected, `${path}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => compare(actual[i], e, `${path}[${i}]`));
    return;
  }
  assert.ok(actual && typeof actual === 'object' && !Array.isArray(actual), `${path}: expected an object, got ${JSON.stringify(actual)}`);
  const a = actual as Record<string, unknown>;
  assert.deepEqual(Object.keys(a).sort(), Object.keys(expected).sort(), `${path}: keys`);
  for (const [k, v] of Object.entries(expected)) {
    if (BY_TYPE[k]) assert.ok(BY_TYPE[k](a[k]), `${path}.${k}: ${JSON.stringify(a[k])} has the wrong type`);
    else compare(a[k], v, `${path}.${k}`);
  }
}

/** Same keys, recursively (for station data the simulator generates: its values are its own). */
function sameShape(actual: unknown, expected: unknown, path = '$'): void {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    assert.ok(actual && typeof actual === 'object', `${path}: expected an object`);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, v] of Object.entries(expected)) sameShape((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else if (expected !== null) assert.equal(typeof actual, typeof expected, `${path}: type`);
}

function http(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const r = request(`${base}${path}`, { method, headers: { ...(data ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, json: text ? JSON.parse(text) : {} }));
    });
    r.on('error', reject);
    r.end(data);
  });
}

const dir = tempDir('labops-api-');
let sim: Simulator;
let base = '';
const controller = new RunSignals();
let daemon: Promise<number>;
const inventoryPath = join(dir.path, 'hosts.json');
const dbUrl = `sqlite:${join(dir.path, 'ops.db')}`;
let password = '';

function writeInventory(mac: string): void {
  const s = sim.stations[0]!;
  const seed = JSON.parse(readFileSync(sim.inventoryPath, 'utf8')).hosts[0];
  writeFileSync(inventoryPath, JSON.stringify({ hosts: [{ ...seed, name: 'lab-ws-01', mac, labs: ['1'], winrm_port: s.port }] }));
}

before(async () => {
  sim = await startSimulator({ hosts: 1, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, bootDelayMs: 100, timeScale: 100 });
  password = readFileSync(sim.passwordFile!, 'utf8').trim();
  writeInventory(sim.stations[0]!.spec.mac);
  const cfg = join(dir.path, 'config.json');
  writeFileSync(cfg, JSON.stringify({ wol: { interval: '400ms', timeout: '400ms', attempts: 3 } }));
  const env = { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path };
  const io0 = IOStreams.test();
  assert.equal(await run(['--db', dbUrl, 'db', 'migrate'], { io: io0, env }), 0, io0.errText());
  const db = await openDatabase(dbUrl);
  await db.kysely
    .insertInto('lab_reservations')
    .values({ transaction_hash: RID, lab_id: '1', wallet_address: '0x8ba1f109551bd432803012645ac136ddd64dba72', start_time: '2026-08-24 08:00:00', end_time: '2026-08-24 09:00:00', status: 'ACTIVE', created_at: '2026-08-20 10:00:00', updated_at: '2026-08-24 08:01:50' })
    .execute();
  await db.close();
  const io = IOStreams.test();
  daemon = run(['--config', cfg, '--hosts', inventoryPath, '--db', dbUrl, '--json', 'daemon', '--only', 'api', '--listen', '127.0.0.1:0'], { io, env, signals: controller });
  await waitFor(() => /listening/.test(io.outText()), 'the API to listen', 20_000);
  base = JSON.parse(io.outText().trim().split('\n')[0]!).listening;
});
after(async () => {
  controller.receive('SIGINT');
  assert.equal(await daemon, 130);
  await sim.close();
  dir.cleanup();
});

const examples = (key: string, pick: (e: Example) => boolean = () => true) => EXAMPLES[key]!.filter(pick);
async function replay(method: string, path: string, e: Example, patch?: (expected: Record<string, unknown>) => void) {
  const r = await http(base, method, path, method === 'GET' ? undefined : (e.request ?? {}));
  assert.equal(r.status, e.status, `${method} ${path} ${JSON.stringify(e.request)}: ${r.text}`);
  assert.ok(r.text.endsWith('\n') && !r.text.slice(0, -1).includes('\n'), 'compact JSON and a trailing newline, as jsonify');
  const expected = structuredClone(e.response);
  patch?.(expected);
  compare(r.json, expected);
  return r;
}

describe('ops-worker HTTP examples replayed against labops', () => {
  test('every example key is replayed or listed as out of scope', () => {
    const replayed = ['GET /health', 'POST /api/wol', 'POST /api/winrm', 'POST /api/heartbeat/poll', 'POST /api/reservations/start', 'POST /api/reservations/end', 'GET /api/reservations/timeline?reservationId=...&limit=100&offset=0', 'POST /api/hosts/reload', 'auth errors (head, any /api/*)'];
    assert.deepEqual(Object.keys(EXAMPLES).filter((k) => k !== '_about').sort(), [...replayed, ...OUT_OF_SCOPE].sort());
  });

  test('GET /health (v0), and the head body\'s shared keys', async () => {
    await replay('GET', '/health', examples('GET /health', (e) => e.version === 'v0')[0]!);
    const r = await http(base, 'GET', '/health');
    const head = examples('GET /health', (e) => e.version === 'head')[0]!.response;
    for (const k of ['db', 'hosts_loaded', 'status']) assert.deepEqual(r.json[k], head[k]);
  });

  test('POST /api/hosts/reload, and /api/wol: unreachable is 200 with success false', async () => {
    writeInventory('02:00:00:00:00:99'); // a MAC no station answers to
    await replay('POST', '/api/hosts/reload', examples('POST /api/hosts/reload')[0]!);
    const [, unreachable] = examples('POST /api/wol');
    await replay('POST', '/api/wol', unreachable!);
    writeInventory(sim.stations[0]!.spec.mac);
    await replay('POST', '/api/hosts/reload', examples('POST /api/hosts/reload')[0]!);
  });

  test('POST /api/reservations/start: a wake that fails is 502 with the wake step only', async () => {
    writeInventory('02:00:00:00:00:99');
    await http(base, 'POST', '/api/hosts/reload');
    await replay('POST', '/api/reservations/start', examples('POST /api/reservations/start', (e) => e.status === 502)[0]!);
    writeInventory(sim.stations[0]!.spec.mac);
    await http(base, 'POST', '/api/hosts/reload');
  });

  test('POST /api/wol: wakes the station; 400 bodies', async () => {
    for (const e of examples('POST /api/wol', (x) => !(x.status === 200 && x.response.success === false))) await replay('POST', '/api/wol', e);
    assert.equal(sim.stations[0]!.state, 'on');
  });

  test('POST /api/winrm: prepare (with an eviction), a release with no lab-user session, 400/404, 500 without exception text', async () => {
    const st = sim.stations[0]!;
    const m = st.runtime!.machine;
    m.logon('teacher', { sessionName: 'rdp-tcp#5' });
    const [prepare, release, ...errors] = examples('POST /api/winrm');
    await replay('POST', '/api/winrm', prepare!);
    for (const s of [...m.sessions]) if (s.user.toLowerCase() === 'labuser') m.logoff(s.id);
    const boots = st.boots;
    await replay('POST', '/api/winrm', release!);
    // the reboot happens after the answer: wait for the boot after it, not the state before it
    await waitFor(() => st.boots > boots && st.state === 'on' && st.runtime!.power === 'on', 'the station to come back from its reboot', 20_000);
    for (const e of errors.filter((x) => x.status !== 500)) await replay('POST', '/api/winrm', e);
    await st.powerOff();
    const head500 = errors.find((x) => x.version === 'head' && x.status === 500)!;
    const r = await replay('POST', '/api/winrm', head500);
    assert.doesNotMatch(r.text, /ECONNREFUSED|refused|127\./);
    await st.powerOn();
  });

  test('POST /api/heartbeat/poll: the raw heartbeat and the last guard event', async () => {
    const e = examples('POST /api/heartbeat/poll')[0]!;
    const r = await http(base, 'POST', '/api/heartbeat/poll', e.request);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), Object.keys(e.response).sort());
    assert.equal(r.json.host, 'lab-ws-01');
    assert.ok(Number.isInteger(r.json.duration_ms));
    sameShape((r.json.heartbeat as Record<string, unknown>).summary, (e.response.heartbeat as Record<string, unknown>).summary);
    assert.deepEqual(Object.keys(r.json.heartbeat as object).sort(), Object.keys(e.response.heartbeat as object).sort());
    sameShape(r.json.last_event, e.response.last_event);
    // include_events "false" means false (the ops-worker treated the string as true)
    const no = await http(base, 'POST', '/api/heartbeat/poll', { host: 'lab-ws-01', include_events: 'false' });
    assert.equal(no.json.last_event, null);
  });

  test('POST /api/reservations/start and end (v0 success bodies); 400 and 404', async () => {
    await sim.stations[0]!.powerOff();
    await replay('POST', '/api/reservations/start', examples('POST /api/reservations/start', (e) => e.status === 200)[0]!);
    for (const e of examples('POST /api/reservations/start', (x) => x.status >= 400 && x.status < 500)) await replay('POST', '/api/reservations/start', e);
    // Deliberate difference: with a power action following, labops' default release does not reboot (the
    // ops-worker's ["--reboot"] reboots at once under its own WinRM answer, and blocks the shutdown).
    await replay('POST', '/api/reservations/end', examples('POST /api/reservations/end')[0]!, (x) => {
      ((x.steps as Record<string, Record<string, unknown>>[])[0]!.details as Record<string, unknown>).args = [];
    });
  });

  test('GET /api/reservations/timeline: same shape, host config without credentials', async () => {
    const e = examples('GET /api/reservations/timeline?reservationId=...&limit=100&offset=0')[0]!;
    const r = await http(base, 'GET', `/api/reservations/timeline?reservationId=${RID}&limit=100&offset=0`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), Object.keys(e.response).sort());
    compare(r.json.reservation, e.response.reservation);
    const host = r.json.host as Record<string, unknown>;
    assert.deepEqual([host.name, host.labId], ['lab-ws-01', '1']);
    const config = host.config as Record<string, unknown>;
    assert.deepEqual(config.labs, ['1']);
    for (const k of ['winrm_user', 'winrm_pass', 'credential_ref']) assert.ok(!(k in config), `host.config must not carry ${k}`);
    assert.ok(!r.text.includes(password), 'the WinRM password never appears');
    const ops = r.json.operations as Record<string, unknown>[];
    const sample = (e.response.operations as Record<string, unknown>[])[0]!;
    for (const op of ops) assert.deepEqual(Object.keys(op).sort(), Object.keys(sample).sort());
    assert.deepEqual(ops.map((o) => o.action), ['wake', 'wake', 'prepare', 'release', 'power:shutdown']);
    compare(ops[1], { ...sample, payload: { ...(sample.payload as object), attemptsUsed: 1 } });
    sameShape(r.json.pagination, e.response.pagination);
    assert.deepEqual(r.json.pagination, { hasMore: false, limit: 100, nextOffset: 5, offset: 0, page: 1, pageSize: 100, returned: 5, total: 5 });
    assert.deepEqual(Object.keys(r.json.phases as object).sort(), Object.keys(e.response.phases as object).sort());
    assert.equal(((r.json.phases as Record<string, Record<string, unknown>>).power!).action, 'power:shutdown');
    const hb = r.json.heartbeat as Record<string, unknown>;
    assert.deepEqual(Object.keys(hb).sort(), Object.keys(e.response.heartbeat as object).sort());
    assert.match(String(hb.timestamp), /\+00:00$/);
    const missing = await http(base, 'GET', '/api/reservations/timeline?reservationId=0xnope');
    assert.deepEqual([missing.status, missing.json], [404, { error: 'Reservation not found' }]);
    const none = await http(base, 'GET', '/api/reservations/timeline');
    assert.deepEqual([none.status, none.json], [400, { error: 'reservationId is required' }]);
  });
});

describe('API security', () => {
  test("/api/winrm: the head worker's fields and commands; a policy violation is a 400 with the reason; nothing secret echoed", async () => {
    const st = sim.stations[0]!;
    await st.powerOn();
    const seen = st.runtime!.receivedArgv.length;
    // credentials in the body are ignored, as at the head worker: the configured ones are used
    const ignored = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-01', command: 'status', user: 'admin', password: 'x' });
    assert.equal(ignored.status, 200, ignored.text);
    assert.equal(ignored.json.exit_code, 0);
    // restating the host's own policy is fine; anything else is refused with the head worker's reason, as a 400
    const restated = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-01', command: 'status', transport: 'NTLM', use_ssl: false, port: st.port });
    assert.equal(restated.status, 200, restated.text);
    const refusals: [Record<string, unknown>, string][] = [
      [{ transport: 'basic' }, 'request transport does not match the host WinRM policy'],
      [{ use_ssl: true }, 'request use_ssl does not match the host WinRM policy'],
      [{ port: 5985 }, 'request port does not match the host WinRM policy'],
      [{ port: 'http' }, 'request port is invalid'],
      [{ args: 'status' }, 'args must be a list of at most 32 strings'],
    ];
    for (const [extra, error] of refusals) {
      const r = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-01', command: 'status', ...extra });
      assert.deepEqual([r.status, r.json], [400, { error }], JSON.stringify(extra));
    }
    assert.equal(st.runtime!.receivedArgv.length, seen + 2, 'a refused request never reaches the station');
    const start = await http(base, 'POST', '/api/reservations/start', { reservationId: '0x1', host: 'lab-ws-01', wakeOptions: { ping_target: '127.0.0.1; whoami' } });
    assert.deepEqual([start.status, start.json.error], [400, 'ping_target is invalid']);
    // the head allow-list (OPS_ALLOWED_COMMANDS) admits energy, account and service; other words are refused
    for (const command of ['energy', 'account', 'service']) {
      const r = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-01', command, args: ['status'] });
      assert.equal(r.status, 200, `${command}: ${r.text}`);
    }
    for (const command of ['cmd.exe', 'Status', 'gui']) {
      const r = await http(base, 'POST', '/api/winrm', { host: 'lab-ws-01', command });
      assert.deepEqual([r.status, r.json.error], [400, `command '${command}' not allowed`]);
    }
    const bad = await http(base, 'POST', '/api/reservations/end', { reservationId: '0x1', host: 'lab-ws-01', powerAction: { mode: 'reboot' } });
    assert.equal(bad.status, 400);
    assert.ok(!JSON.stringify([ignored.json, restated.json]).includes(password));
  });

  test('bodies over the limit are refused with 413; invalid JSON is {} as in Flask', async () => {
    const big = await http(base, 'POST', '/api/winrm', JSON.stringify({ host: 'x'.repeat(70_000) }));
    assert.equal(big.status, 413);
    const junk = await http(base, 'POST', '/api/winrm', 'not json');
    assert.deepEqual([junk.status, junk.json], [400, { error: 'host and command are required' }]);
  });
});

describe('X-Ops-Internal-Token from a file', () => {
  test('labops daemon with OPS_INTERNAL_AUTH_TOKEN_FILE: 401 without the header, 200 with it, /health open', async () => {
    const tokenFile = join(dir.path, 'ops-token');
    writeFileSync(tokenFile, 'tok-123456\n', { mode: 0o600 });
    const ctl = new RunSignals();
    const io = IOStreams.test();
    const d = run(['--hosts', inventoryPath, '--db', dbUrl, '--json', 'daemon', '--only', 'api', '--listen', '127.0.0.1:0'], { io, env: { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path, OPS_INTERNAL_AUTH_TOKEN_FILE: tokenFile }, signals: ctl });
    await waitFor(() => /listening/.test(io.outText()), 'the API to listen', 20_000);
    const url = JSON.parse(io.outText().trim().split('\n')[0]!).listening;
    try {
      const no = await http(url, 'POST', '/api/hosts/reload');
      assert.deepEqual([no.status, no.json], [401, EXAMPLES['auth errors (head, any /api/*)']![0]!.response]);
      assert.equal((await http(url, 'POST', '/api/hosts/reload', {}, { 'X-Ops-Internal-Token': 'tok-12345' })).status, 401);
      assert.equal((await http(url, 'POST', '/api/hosts/reload', {}, { 'X-Ops-Internal-Token': 'tok-123456' })).status, 200);
      assert.equal((await http(url, 'GET', '/health')).status, 200);
      assert.doesNotMatch(io.errText() + io.outText(), /tok-123456/);
    } finally {
      ctl.receive('SIGINT');
      await d;
    }
  });
});
