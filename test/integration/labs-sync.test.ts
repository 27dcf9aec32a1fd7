// labs sync against simulated CML controllers over TLS, through the real CLI entry (in process), on SQLite.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startCmlControllers, type CmlControllers } from '../../src/sim/cml/index.js';
import { parseFault } from '../../src/sim/faults.js';
import { startSimLab, type SimLab } from '../support/sim-lab.js';
import { CmlClient, sharedSecureContext } from '../../src/core/http-apis/cml-client.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { tempDir } from '../support/tmp.js';
import { openDatabase } from '../../src/core/db/database.js';
import { CmlLabStore } from '../../src/core/db/cml-lab-store.js';
import { toSqlTime } from '../../src/domain/labs/timestamps.js';

interface Line { type: string; [k: string]: unknown }

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const io = IOStreams.test();
  let writes = 0;
  const write = io.stdout.write.bind(io.stdout);
  io.stdout.write = ((...a: Parameters<typeof write>) => {
    writes++;
    return write(...a);
  }) as typeof write;
  const code = await run(args, { io, env: { HOME: '/nonexistent', ...env } });
  const stdout = io.outText();
  return { code, stdout, writes, stderr: io.errText(), lines: () => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) };
}

function writeConfig(dir: string, name: string, cfg: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(cfg, null, 2));
  return p;
}

describe('labs sync over TLS (SQLite)', () => {
  const dir = tempDir('labops-cml-');
  let labSim: SimLab;
  let sim: CmlControllers;
  let config: string;
  let db: string;
  const base = () => ['--config', config, '--db', db];
  before(async () => {
    // `labops sim --cml 3 --cml-labs 6 --cml-change off`; faults through its control endpoint
    labSim = await startSimLab({ stateDir: dir.path, cml: 3, cmlLabs: 6, cmlChange: 'off' });
    sim = labSim.cml!;
    config = sim.configPath;
    db = `sqlite:${join(dir.path, 'labops.db')}`;
    assert.equal((await cli(['--db', db, 'db', 'migrate'])).code, 0); // a named database is migrated by its operator
  });
  after(async () => {
    await labSim.close();
    dir.cleanup();
  });

  test('first sync creates every lab (show_all sees other owners) and streams NDJSON events', async () => {
    const r = await cli([...base(), '--json', 'labs', 'sync']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.lines();
    const created = lines.filter((l) => l.type === 'lab' && l.event === 'created');
    assert.equal(created.length, 18);
    assert.deepEqual(lines.filter((l) => l.type === 'server').map((l) => [l.status, l.created]).sort(), [['synced', 6], ['synced', 6], ['synced', 6]]);
    const summary = lines.at(-1)!;
    assert.equal(summary.type, 'summary');
    assert.equal(summary.created, 18);
    // each server's lab events directly before its result line, written together: one write per server plus the summary
    const types = lines.map((l) => l.type).join(',');
    assert.match(types, /^((lab,){6}server,){3}summary$/);
    assert.equal(r.writes, 4);
    // Labs of both users are cached: the admin listed with show_all=true.
    const owners = new Set(created.map((l) => l.lab_id).map((id) => [...sim.controllers.flatMap((c) => [...c.labs.values()])].find((x) => x.id === id)!.owner_username));
    assert.deepEqual([...owners].sort(), ['admin', 'asmith', 'jdoe']);
  });

  test('a re-sync where nothing changed writes no history and one statement per server', async () => {
    const r = await cli([...base(), '--json', 'labs', 'sync']);
    assert.equal(r.code, 0, r.stderr);
    const servers = r.lines().filter((l) => l.type === 'server');
    for (const s of servers) {
      assert.equal(s.created, 0);
      assert.equal(s.updated, 0);
      assert.equal(s.unchanged, 6);
      assert.equal(s.history, 0);
      assert.equal(s.statements, 1);
    }
    assert.equal(r.lines().filter((l) => l.type === 'lab').length, 0);
  });

  test('state, title and node count changes are stored with history; list and history show them', async () => {
    const c = sim.controllers[0]!;
    const [a, b] = [...c.labs.values()];
    const oldTitle = b!.lab_title;
    const oldNodes = a!.node_count;
    c.updateLab(a!.id, { state: a!.state === 'STARTED' ? 'STOPPED' : 'STARTED', node_count: a!.node_count + 5 });
    c.updateLab(b!.id, { lab_title: 'Renamed lab' });
    const r = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    assert.equal(r.code, 0, r.stderr);
    const ev = r.lines().filter((l) => l.type === 'lab');
    assert.deepEqual(ev.map((e) => [e.event, e.lab_id]), [['state_changed', a!.id]]);
    const srv = r.lines().find((l) => l.type === 'server')!;
    assert.equal(srv.updated, 2);
    assert.equal(srv.history, 2);

    const list = await cli([...base(), '--json', 'labs', 'list', '--server', c.id]);
    const labs = JSON.parse(list.stdout) as { id: string; title: string; node_count: number; owner: string }[];
    assert.equal(labs.find((l) => l.id === b!.id)!.title, 'Renamed lab');
    assert.equal(labs.find((l) => l.id === a!.id)!.node_count, a!.node_count);
    assert.deepEqual(Object.keys(labs[0]!), ['id', 'title', 'description', 'notes', 'state', 'owner', 'owner_username', 'node_count', 'link_count', 'created', 'modified', 'groups', 'last_synced']);

    const h = await cli([...base(), '--json', 'labs', 'history', b!.id]);
    assert.equal(h.code, 0, h.stderr);
    const hist = JSON.parse(h.stdout) as { operation_history: { previous_state: string; new_state: string; changed_fields: Record<string, unknown> }[] };
    assert.equal(hist.operation_history.length, 1);
    assert.deepEqual(hist.operation_history[0]!.changed_fields, { title: { old: oldTitle, new: 'Renamed lab' } });
    assert.equal(hist.operation_history[0]!.previous_state, hist.operation_history[0]!.new_state);
    const table = await cli([...base(), 'labs', 'history', a!.id]);
    assert.match(table.stdout, new RegExp(`node_count: ${oldNodes} → ${oldNodes + 5}`));
  });

  test('the history ring keeps the last 50 entries', async () => {
    const c = sim.controllers[2]!;
    const lab = [...c.labs.values()][0]!;
    for (let i = 0; i < 53; i++) {
      c.updateLab(lab.id, { lab_title: `ring ${i}` });
      const r = await cli([...base(), 'labs', 'sync', '--server', c.id]);
      assert.equal(r.code, 0, r.stderr);
    }
    const h = await cli([...base(), '--json', 'labs', 'history', lab.id]);
    const entries = (JSON.parse(h.stdout) as { operation_history: { changed_fields: { title: { new: string } } }[] }).operation_history;
    assert.equal(entries.length, 50);
    assert.equal(entries[0]!.changed_fields.title.new, 'ring 3');
    assert.equal(entries.at(-1)!.changed_fields.title.new, 'ring 52');
  });

  test('a vanished lab is marked orphaned (not deleted); --purge removes it and its history', async () => {
    const c = sim.controllers[0]!;
    const gone = [...c.labs.values()][0]!;
    c.deleteLab(gone.id);
    const r = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines().filter((l) => l.type === 'lab').map((l) => [l.event, l.lab_id]), [['orphaned', gone.id]]);
    const visible = JSON.parse((await cli([...base(), '--json', 'labs', 'list', '--server', c.id])).stdout) as { id: string }[];
    assert.ok(!visible.some((l) => l.id === gone.id));
    const docs = JSON.parse((await cli([...base(), 'labs', 'list', '--server', c.id, '--all', '--format', 'lab-record'])).stdout) as { lab_id: string; orphaned_at?: string; operation_history: unknown[] }[];
    const doc = docs.find((d) => d.lab_id === gone.id)!;
    assert.ok(doc.orphaned_at);
    assert.equal(doc.operation_history.length, 1);
    // A second sync does not orphan it again.
    const again = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    assert.equal(again.lines().filter((l) => l.type === 'lab').length, 0);
    const purge = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id, '--purge']);
    assert.equal(purge.lines().find((l) => l.type === 'server')!.purged, 1);
    const h = await cli([...base(), 'labs', 'history', gone.id]);
    assert.equal(h.code, 2);
    assert.match(h.stderr, /no cached lab/);
  });

  for (const kind of ['500', 'html', '404', 'empty', 'hang', 'malformed', 'reset'] as const) {
    test(`a lab list answering ${kind} never orphans anything and other servers still sync`, async () => {
      const c = sim.controllers[1]!;
      const before = JSON.parse((await cli([...base(), '--json', 'labs', 'list', '--server', c.id])).stdout) as unknown[];
      await labSim.patch({ fault: [`cml.list:${kind}@times=1,server=${c.id}`] });
      const r = await cli([...base(), '--json', 'labs', 'sync', '--timeout', '500ms']);
      const servers = r.lines().filter((l) => l.type === 'server');
      const bad = servers.find((s) => s.server === c.id)!;
      assert.equal(bad.orphaned, 0);
      assert.equal(r.lines().filter((l) => l.type === 'lab' && l.event === 'orphaned').length, 0);
      if (kind === 'empty') {
        // synced, but cron must notice: partial
        assert.equal(r.code, 5, r.stderr);
        assert.equal(bad.suspectEmptyList, true);
        assert.match((bad.warnings as string[]).join(), /empty lab list while 6 lab\(s\) are stored/);
      } else {
        assert.equal(r.code, 5, r.stderr);
        assert.equal(bad.status, 'failed');
        assert.match(JSON.stringify(bad.error), { 500: /HTTP 500/, html: /HTML page/, 404: /404/, hang: /timeout/, malformed: /not valid JSON/, reset: /ECONNRESET/ }[kind]);
        assert.equal(servers.filter((s) => s.status === 'synced').length, 2);
      }
      const afterList = JSON.parse((await cli([...base(), '--json', 'labs', 'list', '--server', c.id])).stdout) as unknown[];
      assert.equal(afterList.length, before.length);
    });
  }

  test('a lab detail with an unusable field keeps that field as stored and the rest is synced, with a warning', async () => {
    const c = sim.controllers[1]!;
    const lab = [...c.labs.values()][2]!;
    const before = (JSON.parse((await cli([...base(), '--json', 'labs', 'list', '--server', c.id])).stdout) as { id: string; node_count: number }[]).find((l) => l.id === lab.id)!;
    c.detailPatches.set(lab.id, { node_count: 'seven', lab_title: 'stored with the rest' });
    const r = await cli([...base(), 'labs', 'sync', '--server', c.id]);
    c.detailPatches.delete(lab.id);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`lab ${lab.id}: node_count: expected a whole number ≥ 0, got "seven"; the stored value kept`));
    const afterRec = (JSON.parse((await cli([...base(), '--json', 'labs', 'list', '--server', c.id])).stdout) as { id: string; title: string; node_count: number }[]).find((l) => l.id === lab.id)!;
    assert.equal(afterRec.title, 'stored with the rest');
    assert.equal(afterRec.node_count, before.node_count);
    c.updateLab(lab.id, { lab_title: lab.lab_title });
  });

  for (const labConcurrency of ['1', '4']) {
    test(`one lab detail that never answers fails that lab only (--lab-concurrency ${labConcurrency})`, async () => {
      const c = sim.controllers[1]!;
      const slow = [...c.labs.values()][0]!;
      await labSim.patch({ fault: [`cml.detail:hang@lab=${slow.id}`] });
      const r = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id, '--timeout', '300ms', '--lab-concurrency', labConcurrency]);
      await labSim.patch({ fault: [] });
      assert.equal(r.code, 5, 'partial: one lab failed, the controller answered');
      const s = r.lines().find((l) => l.type === 'server')!;
      assert.equal(s.status, 'synced', JSON.stringify(s.error));
      assert.equal(s.error, null);
      assert.equal(s.synced, 5);
      assert.deepEqual((s.labErrors as { lab_id: string }[]).map((e) => e.lab_id), [slow.id]);
      assert.match(JSON.stringify(s.labErrors), /no complete answer within 300 ms/);
    });
  }

  test('a lab detail answering 500 fails that lab only', async () => {
    const c = sim.controllers[1]!;
    const lab = [...c.labs.values()][1]!;
    await labSim.patch({ fault: [`cml.detail:500@times=1,lab=${lab.id}`] });
    const r = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    assert.equal(r.code, 5);
    const s = r.lines().find((l) => l.type === 'server')!;
    assert.equal(s.status, 'synced');
    assert.equal(s.synced, 5);
    assert.match(JSON.stringify(s.labErrors), /HTTP 500: Internal Server Error/);
  });

  test('a controller that hangs on lab details times out, stops early and fails alone', async () => {
    const c = sim.controllers[1]!;
    await labSim.patch({ fault: [`cml.detail:hang@server=${c.id}`] });
    const r = await cli([...base(), '--json', 'labs', 'sync', '--timeout', '300ms']);
    await labSim.patch({ fault: [] });
    assert.equal(r.code, 5, r.stderr);
    const s = r.lines().find((l) => l.type === 'server' && l.server === c.id)!;
    assert.equal(s.status, 'failed');
    assert.equal((s.error as { reason: string }).reason, 'timeout');
    assert.match((s.error as { message: string }).message, /^5 lab details in a row timed out; last: .*no complete answer within 300 ms/);
  });

  test('an HTML page instead of the login answer is a clear per-server error', async () => {
    const c = sim.controllers[2]!;
    await labSim.patch({ fault: [`cml.auth:html@times=1,server=${c.id}`] });
    const r = await cli([...base(), 'labs', 'sync', '--server', c.id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTML page/);
  });

  test('one detail connection pool per server: far fewer TLS connections than requests', async () => {
    const c = sim.controllers[0]!;
    for (let i = 0; i < 40; i++) c.addLab();
    const before = { ...c.stats };
    const r = await cli([...base(), 'labs', 'sync', '--server', c.id, '--lab-concurrency', '4']);
    assert.equal(r.code, 0, r.stderr);
    const requests = c.stats.requests - before.requests;
    const connections = c.stats.connections - before.connections;
    assert.ok(requests >= 45, `requests ${requests}`);
    assert.ok(connections <= 4, `connections ${connections}`);
    // The health check waits for the login's connection, so only that one pays a full handshake; the
    // others resume its TLS session.
    assert.equal(connections - (c.stats.resumed - before.resumed), 1, 'full TLS handshakes');
  });

  test('the store deletes only records orphaned before the retention cut-off (SQLite)', async () => {
    const c = sim.controllers[2]!;
    const [old, recent] = [...c.labs.values()];
    c.deleteLab(old!.id);
    c.deleteLab(recent!.id);
    assert.equal((await cli([...base(), 'labs', 'sync', '--server', c.id])).code, 0);
    const database = await openDatabase(db);
    try {
      const day = 86_400_000;
      const at = (ms: number) => toSqlTime(new Date(ms).toISOString());
      await database.kysely.updateTable('cml_lab_records').set({ orphaned_at: at(Date.now() - 8 * day) }).where('lab_id', '=', old!.id).execute();
      await database.kysely.updateTable('cml_lab_records').set({ orphaned_at: at(Date.now() - 6 * day) }).where('lab_id', '=', recent!.id).execute();
      const store = new CmlLabStore(database.kysely, database.dialect);
      assert.deepEqual(await store.purgeOrphans(c.id, new Date(Date.now() - 7 * day).toISOString()), [old!.id]);
      const left = (await store.list({ serverIds: [c.id], includeOrphans: true })).map((r) => r.labId);
      assert.ok(!left.includes(old!.id));
      assert.ok(left.includes(recent!.id));
      assert.equal(left.length, 5);
    } finally {
      await database.close();
    }
  });
});

describe('CML client: tokens', () => {
  const dir = tempDir('labops-cml-tok-');
  let sim: CmlControllers;
  before(async () => {
    sim = await startCmlControllers({ count: 1, labsPerController: 3, stateDir: dir.path });
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  test('clients trusting the same CA share one TLS context (built once per process, not per controller)', () => {
    const pem = readFileSync(sim.caFile, 'utf8');
    assert.equal(sharedSecureContext(pem), sharedSecureContext(Buffer.from(pem)));
    assert.notEqual(sharedSecureContext(pem), sharedSecureContext(undefined));
  });

  test('an expired token is renewed once and the request retried', async () => {
    const c = sim.controllers[0]!;
    const client = new CmlClient({ url: c.url, username: 'admin', password: 'admin-pw', ca: readFileSync(sim.caFile) });
    try {
      const ids = await client.listLabIds();
      c.expireTokens();
      const details = await Promise.all(ids!.map((id) => client.labDetail(id)));
      assert.equal(details.length, 3);
      assert.equal(client.logins, 2, 'concurrent 401s share one re-login');
    } finally {
      client.close();
    }
  });
});

describe('labs sync: credentials, TLS and config errors', () => {
  const dir = tempDir('labops-cml-bad-');
  let sim: CmlControllers;
  const db = () => `sqlite:${join(dir.path, 'labops.db')}`;
  before(async () => {
    sim = await startCmlControllers({ count: 2, labsPerController: 2, stateDir: dir.path, flavor: 'older' });
    assert.equal((await cli(['--db', db(), 'db', 'migrate'])).code, 0);
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });
  const server = (i: number, over: Record<string, unknown> = {}) => ({ ...sim.servers[i]!, ...over });

  test('wrong credentials: exit 4 for a single server, 5 when another one synced; no password echoed', async () => {
    const one = writeConfig(dir.path, 'wrong1.json', { cml: { servers: [server(0, { password: 'env:CML_PW' })] } });
    const r = await cli(['--config', one, '--db', db(), 'labs', 'sync'], { CML_PW: 'not-the-password' });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /login as 'admin' rejected \(HTTP 403: Authentication failed!\)/);
    assert.doesNotMatch(r.stderr + r.stdout, /not-the-password/);
    // The unauthenticated health check is reported whatever the login did.
    const j = await cli(['--config', one, '--db', db(), '--json', 'labs', 'sync'], { CML_PW: 'not-the-password' });
    const line = j.lines().find((l) => l.type === 'server') as { health?: { ok: boolean; version?: string } } | undefined;
    assert.equal(line?.health?.ok, true, j.stdout);
    assert.match(String(line?.health?.version), /^2\./);
    const two = writeConfig(dir.path, 'wrong2.json', { cml: { servers: [server(0, { password: 'env:CML_PW' }), server(1)] } });
    const r2 = await cli(['--config', two, '--db', db(), 'labs', 'sync'], { CML_PW: 'not-the-password' });
    assert.equal(r2.code, 5, r2.stderr);
  });

  test('untrusted certificate: exit 4 with the CA hint naming the config path', async () => {
    const p = writeConfig(dir.path, 'noca.json', { cml: { servers: [server(0, { ca: undefined })] } });
    const r = await cli(['--config', p, '--db', db(), 'labs', 'sync']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /TLS verification failed/);
    assert.match(r.stderr, /hint: set `ca` \(cml\.servers\[0\]\)/);
  });

  test('insecure: true is the explicit way around verification', async () => {
    const p = writeConfig(dir.path, 'insecure.json', { cml: { servers: [server(0, { ca: undefined, insecure: true })] } });
    const r = await cli(['--config', p, '--db', db(), 'labs', 'sync']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('older controllers without owner_fullname: stored as null, shown as the upstream default', async () => {
    const p = writeConfig(dir.path, 'older.json', { cml: { servers: [server(1)] } });
    assert.equal((await cli(['--config', p, '--db', db(), 'labs', 'sync'])).code, 0);
    const labs = JSON.parse((await cli(['--db', db(), '--json', 'labs', 'list', '--server', sim.servers[1]!.id])).stdout) as { owner: string }[];
    assert.ok(labs.length > 0);
    for (const l of labs) assert.equal(l.owner, 'Unknown');
  });

  test('a token that is rejected even after re-login is exit 4', async () => {
    const c = sim.controllers[0]!;
    // Every token dies at its first use by a lab list (`--fault cml.list:expire-token`).
    sim.faults.add(parseFault('cml.list:expire-token'));
    try {
      const client = new CmlClient({ url: c.url, username: 'admin', password: 'admin-pw', ca: readFileSync(sim.caFile) });
      let err: Error | undefined;
      for (let i = 0; i < 20 && !err; i++) {
        try {
          await client.listLabIds();
        } catch (e) {
          err = e as Error;
        }
      }
      client.close();
      assert.match(String(err?.message), /401 even with a fresh token/);
    } finally {
      sim.faults.clear();
    }
  });

  const badConfigs: [string, unknown, RegExp][] = [
    ['bad url', { cml: { servers: [{ id: 'a', url: 'ftp://x', username: 'u', password: 'env:X' }] } }, /cml\.servers\[0\]\.url: expected the controller base URL/],
    ['unknown key', { cml: { servers: [{ id: 'a', url: 'https://x', username: 'u', password: 'env:X', verify: false }] } }, /cml\.servers\[0\]: Unrecognized key/],
    ['duplicate id', { cml: { servers: [{ id: 'a', url: 'https://x', username: 'u', password: 'p' }, { id: 'a', url: 'https://y', username: 'u', password: 'p' }] } }, /cml\.servers\[1\]\.id: duplicate server id 'a'/],
    ['ca and insecure', { cml: { servers: [{ id: 'a', url: 'https://x', username: 'u', password: 'p', ca: '/x', insecure: true }] } }, /cml\.servers\[0\]: give either ca or insecure/],
    ['missing password env', { cml: { servers: [{ id: 'a', url: 'https://x', username: 'u', password: 'env:LABOPS_TEST_UNSET' }] } }, /cml\.servers\[0\]\.password: environment variable LABOPS_TEST_UNSET is not set/],
    ['unreadable ca', { cml: { servers: [{ id: 'a', url: 'https://x', username: 'u', password: 'p', ca: 'missing.pem' }] } }, /cml\.servers\[0\]\.ca: cannot read .*missing\.pem \(ENOENT\)/],
    ['no servers', {}, /no CML servers configured/],
    ['bad notify', { cml: { servers: [{ id: 'a', url: 'https://x', username: 'u', password: 'p' }] }, notify: { command: 5 } }, /notify\.command/],
  ];
  for (const [name, cfg, re] of badConfigs) {
    test(`bad config (${name}): exit 2, the file and JSON path named, nothing contacted`, async () => {
      const p = writeConfig(dir.path, `bad-${name.replace(/\W/g, '-')}.json`, cfg);
      const r = await cli(['--config', p, '--db', db(), 'labs', 'sync']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      if (name !== 'no servers') assert.ok(r.stderr.includes(p), r.stderr);
    });
  }

  test('unknown --server is exit 2 and lists the configured ids', async () => {
    const p = writeConfig(dir.path, 'ok.json', { cml: { servers: [server(0)] } });
    const r = await cli(['--config', p, '--db', db(), 'labs', 'sync', '--server', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown CML server 'nope'/);
    assert.match(r.stderr, new RegExp(`configured: ${sim.servers[0]!.id}`));
  });
});

describe('labs sync: notification hook', () => {
  const dir = tempDir('labops-cml-notify-');
  let sim: CmlControllers;
  before(async () => {
    sim = await startCmlControllers({ count: 1, labsPerController: 2, stateDir: dir.path });
    assert.equal((await cli(['--db', `sqlite:${join(dir.path, 'n.db')}`, 'db', 'migrate'])).code, 0);
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  test('events reach a command (NDJSON on stdin) and a webhook (one POST per run)', async () => {
    const out = join(dir.path, 'events.ndjson');
    const hook = join(dir.path, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\necho "kind=$LABOPS_NOTIFY_KIND" > ${out}\ncat >> ${out}\n`, { mode: 0o755 });
    const posts: unknown[] = [];
    const web = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/hook?token=secret-token`;
      const p = writeConfig(dir.path, 'notify.json', { cml: { servers: sim.servers }, notify: { command: [hook], webhook: 'env:HOOK_URL' } });
      const r = await cli(['--config', p, '--db', `sqlite:${join(dir.path, 'n.db')}`, 'labs', 'sync'], { HOOK_URL: url });
      assert.equal(r.code, 0, r.stderr);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'kind=cml.labs');
      assert.deepEqual(lines.slice(1).map((l) => (JSON.parse(l) as { event: string }).event), ['created', 'created']);
      assert.equal(posts.length, 1);
      assert.equal((posts[0] as { events: unknown[] }).events.length, 2);
    } finally {
      web.close();
    }
  });

  test('a failing hook is a warning, not a failed sync', async () => {
    sim.controllers[0]!.addLab();
    const p = writeConfig(dir.path, 'notify-bad.json', { cml: { servers: sim.servers }, notify: { command: ['/bin/false'] } });
    const r = await cli(['--config', p, '--db', `sqlite:${join(dir.path, 'n.db')}`, 'labs', 'sync']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: notification hook: notify command \/bin\/false exited 1/);
  });
});
