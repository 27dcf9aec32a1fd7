// The DC job consumer against a real redis-server, the LINBO API peer (src/sim/linbo), a real Samba AD
// sam.ldb, the import-devices stand-in and the real hook wrapper.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { tempDir } from '../support/tmp.js';
import { provisionSamba } from '../support/samba.js';
import { makeSite, type Site } from '../support/dc-site.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { waitFor } from '../support/services.js';
import { cli, fixturePath } from '../support/dc-tree.js';
import { startLinboApi, type LinboApi } from '../../src/sim/linbo/index.js';
import { parseFault } from '../../src/sim/faults.js';
import { runDcJobConsumer, type DcJobsSummary } from '../../src/ops/dc-jobs.js';
import { acquireLock } from '../../src/core/fs/lock.js';
import { TempFail } from '../../src/domain/errors.js';

const KEY = 'test-internal-key-7f3a';
const work = tempDir('labops-dcjobs-');
let samLdb = '';
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  work.cleanup();
});

before(() => {
  samLdb = provisionSamba(work.path) ?? '';
});

interface World {
  redis: TestRedis;
  api: LinboApi;
  site: Site;
  redisClient: Redis;
  pending(): Promise<number>;
}

/** A fresh Redis, API peer and DC tree per test, so consumers never see another test's stream. */
async function world(o: { password?: string; workerExtra?: string[]; importScript?: string } = {}): Promise<World> {
  const redis = await startRedis({ password: o.password });
  const api = await startLinboApi({ redisUrl: o.password ? `redis://:${o.password}@127.0.0.1:${redis.port}` : redis.url, internalKey: KEY, provisioningDryRun: false });
  const site = makeSite(work.path, samLdb, {
    importScript: o.importScript,
    workerExtra: [
      'REDIS_HOST=127.0.0.1',
      `REDIS_PORT=${redis.port}`,
      `API_URL=${api.apiUrl}`,
      `API_KEY=${KEY}`,
      'CONSUMER_NAME=dc-test',
      'PROVISION_DEBOUNCE_SEC=0',
      'CLAIM_IDLE_SEC=1',
      'CLAIM_INTERVAL_SEC=0.3',
      'RETRY_BACKOFF_SEC=0.05',
      'RETRY_BACKOFF_MAX_SEC=0.2',
      'API_TIMEOUT_SEC=0.5',
      'PROVISION_LOCK_WAIT_SEC=5',
      ...(o.workerExtra ?? []),
    ],
  });
  const redisClient = new Redis({ host: '127.0.0.1', port: redis.port, password: o.password, protocol: 2, maxRetriesPerRequest: null, lazyConnect: false });
  redisClient.on('error', () => {});
  cleanups.push(async () => {
    redisClient.disconnect();
    await api.close();
    await redis.stop();
  });
  return {
    redis,
    api,
    site,
    redisClient,
    async pending() {
      const r = (await redisClient.xpending('linbo:jobs', 'dc-workers')) as [number, ...unknown[]];
      return Number(r[0]);
    },
  };
}

interface Run {
  stop(): Promise<DcJobsSummary>;
  logs: string[];
}

function startConsumer(w: World, o: { consumer?: string; extraEnv?: NodeJS.ProcessEnv } = {}): Run {
  const ctl = new AbortController();
  const logs: string[] = [];
  const p = runDcJobConsumer({
    env: { ...w.site.env, ...o.extraEnv },
    overrides: o.consumer ? { consumer_name: o.consumer } : {},
    signal: ctl.signal,
    log: (l, m) => logs.push(`${l} ${m}`),
  });
  p.catch(() => {});
  return {
    logs,
    async stop() {
      ctl.abort();
      return p;
    },
  };
}

async function once(w: World, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ summary: DcJobsSummary; logs: string[] }> {
  const logs: string[] = [];
  const summary = await runDcJobConsumer({ env: { ...w.site.env, ...extraEnv }, signal: new AbortController().signal, once: true, log: (l, m) => logs.push(`${l} ${m}`) });
  return { summary, logs };
}

const statuses = (w: World, id: string) => (w.api.patches.get(id) ?? []).map((p) => p.body.status);
const terminal = (w: World, id: string) => statuses(w, id).filter((s) => s === 'completed' || s === 'failed');

function host(i: number) {
  const hex = i.toString(16).padStart(2, '0');
  return { hostname: `pc${String(i).padStart(2, '0')}`, mac: `aa:bb:cc:00:01:${hex}`, ip: `10.0.5.${i}`, configName: 'win11_efi_sata', room: 'lab05' };
}

/** A repair_macct.py stand-in: records its argv, prints what the real one would. */
function fakeRepairScript(dir: string, o: { fail?: boolean; sleepMs?: number } = {}): { script: string; argvLog: string } {
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'repair_macct.py');
  const argvLog = join(dir, 'argv.log');
  writeFileSync(
    script,
    [
      'import sys, time, json',
      `open(${JSON.stringify(argvLog)}, "a").write(json.dumps(sys.argv[1:]) + "\\n")`,
      `time.sleep(${(o.sleepMs ?? 0) / 1000})`,
      o.fail ? 'sys.stderr.write("ldbmodify failed\\n"); sys.exit(1)' : 'print("Fixing unicodePwd for host"); print("done")',
      '',
    ].join('\n'),
  );
  return { script, argvLog };
}

describe('dc jobs: provision batches', () => {
  test('jobs enqueued at once: one import, every job reported once (running, completed), ACKed, files and AD updated', { timeout: 180_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const w = await world();
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push((await w.api.queueProvision('create', host(i))).operationId);
    // dedup: the same create for the same host is not queued twice
    assert.equal((await w.api.queueProvision('create', host(1))).status, 'already_queued');
    const { summary } = await once(w);
    assert.equal(summary.importRuns, 1);
    assert.equal(summary.completed, 5);
    for (const id of ids) {
      assert.deepEqual(statuses(w, id), ['running', 'completed'], id);
      const op = w.api.operations.get(id)!;
      const res = op.result as { verify: Record<string, unknown>; mergeStats: { batch_size: number } };
      assert.deepEqual(res.verify, { ad_object_exists: true, dns_a_exists: null, dhcp_configured: true, dns_ptr_exists: null });
      assert.equal(res.mergeStats.batch_size, 5);
    }
    assert.equal(await w.pending(), 0);
    const master = readFileSync(w.site.master, 'utf8');
    for (let i = 1; i <= 5; i++) assert.match(master, new RegExp(`^lab05;${host(i).hostname};win11_efi_sata;AA:BB:CC:00:01:0${i};10\\.0\\.5\\.${i};`, 'm'));
    assert.equal([...w.api.hosts.values()].filter((h) => h.provisionStatus === 'synced').length, 5);

    // delete one: verify expects it absent
    const del = (await w.api.queueProvision('delete', { hostname: 'pc03' })).operationId;
    const r2 = await once(w);
    assert.equal(r2.summary.completed, 1);
    assert.equal((w.api.operations.get(del)!.result as { verify: { expected_absent: boolean } }).verify.expected_absent, true);
    assert.doesNotMatch(readFileSync(w.site.master, 'utf8'), /;pc03;/);
  });

  test('an invalid hostname and a conflicting MAC fail alone; the rest of the batch is imported', { timeout: 120_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const w = await world();
    const good = (await w.api.queueProvision('create', host(11))).operationId;
    const bad = (await w.api.queueProvision('create', { ...host(12), hostname: 'bad_name' })).operationId;
    const dup = (await w.api.queueProvision('create', { ...host(13), mac: '4f:55:ff:69:15:cc' })).operationId;
    const { summary } = await once(w);
    assert.equal(summary.importRuns, 1);
    assert.equal(w.api.operations.get(good)!.status, 'completed');
    assert.equal(w.api.operations.get(bad)!.error, "Invalid hostname format: 'bad_name'");
    assert.equal(w.api.operations.get(dup)!.error, 'Conflict: Duplicate MAC 4F:55:FF:69:15:CC with host server');
    assert.doesNotMatch(readFileSync(w.site.master, 'utf8'), /;pc13;/);
  });
});

describe('dc jobs: macct lane, retries, DLQ', () => {
  test('REPAIR_SCRIPT is called as the worker calls it; a macct job is not held back by a running provision batch', { timeout: 120_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const slow = join(work.path, 'slow-import.sh');
    const gate = join(work.path, `gate-${Date.now()}`);
    // the import waits until the test opens the gate
    writeFileSync(slow, `#!/bin/sh\nwhile [ ! -e "${gate}" ]; do sleep 0.05; done\nexec "${fixturePath('fake-import-devices.mjs')}" "$@"\n`, { mode: 0o755 });
    const repair = fakeRepairScript(join(work.path, `repair-${Date.now()}`));
    const w = await world({ importScript: slow, workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    const c = startConsumer(w);
    try {
      const prov = (await w.api.queueProvision('create', host(21))).operationId;
      await waitFor(() => w.api.operations.get(prov)!.status === 'running', 'the provision batch to start');
      const m = await w.api.queueMacct('pc-r101-01');
      await waitFor(() => w.api.operations.get(m.operationId)!.status === 'completed', 'the macct job to complete');
      assert.equal(w.api.operations.get(prov)!.status, 'running', 'the provision batch is still waiting for its import');
      assert.deepEqual(w.api.operations.get(m.operationId)!.result, { processed: true, stdout_lines: 2, unicodePwd_updated: true });
      const argv = JSON.parse(readFileSync(repair.argvLog, 'utf8').trim());
      assert.deepEqual(argv, ['--only-hosts', 'pc-r101-01', '-s', 'default-school', '--log-file', join(work.path, 'log', `${m.operationId}.log`)]);
      writeFileSync(gate, '');
      await waitFor(() => w.api.operations.get(prov)!.status === 'completed', 'the provision job to complete', 60_000);
    } finally {
      await c.stop();
    }
    assert.equal(await w.pending(), 0);
  });

  test('a failing macct job runs MAX_RETRIES=3 times (attempts counted once), then goes to the DLQ with its last error', { timeout: 60_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-fail-${Date.now()}`), { fail: true });
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    const m = await w.api.queueMacct('pc-r101-02');
    const c = startConsumer(w);
    try {
      await waitFor(() => w.api.operations.get(m.operationId)!.status === 'failed', 'the job to fail for good');
    } finally {
      await c.stop();
    }
    const bodies = w.api.patches.get(m.operationId)!.map((p) => p.body);
    assert.deepEqual(bodies, [
      { status: 'running', attempt: 0 },
      { status: 'retrying', error: 'ldbmodify failed', attempt: 0 },
      { status: 'running', attempt: 1 },
      { status: 'retrying', error: 'ldbmodify failed', attempt: 1 },
      { status: 'running', attempt: 2 },
      { status: 'failed', error: 'Max retries (3) exceeded: ldbmodify failed' },
    ]);
    assert.equal(readFileSync(repair.argvLog, 'utf8').trim().split('\n').length, 3, 'the script ran three times');
    const dlq = await w.api.dlq();
    assert.equal(dlq.length, 1);
    assert.equal(dlq[0]!.operation_id, m.operationId);
    assert.equal(dlq[0]!.type, 'macct_repair');
    assert.equal(dlq[0]!.host, 'pc-r101-02');
    assert.equal(dlq[0]!.attempt, '2');
    assert.equal(dlq[0]!.last_error, 'ldbmodify failed');
    assert.match(dlq[0]!.failed_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(await w.pending(), 0);
  });
});

describe('dc jobs: bad input', () => {
  test('unknown type, missing fields, an operation the API no longer has: dead-lettered with the reason, ACKed', { timeout: 60_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const w = await world();
    await w.api.addRaw({ type: 'wipe_everything', operation_id: 'abc' });
    await w.api.addRaw({ type: 'macct_repair', school: 'default-school' });
    await w.api.addRaw({ type: 'provision_host', operation_id: 'x1', action: 'explode' });
    const gone = await w.api.queueMacct('pc-gone');
    w.api.deleteOperation(gone.operationId);
    const { summary, logs } = await once(w);
    assert.equal(summary.invalid, 3);
    assert.equal(summary.deadLettered, 4);
    const reasons = (await w.api.dlq()).map((d) => d.last_error);
    assert.deepEqual(reasons, [
      "Invalid job message: unknown job type 'wipe_everything'",
      'Invalid job message: missing field operation_id',
      "Invalid job message: unknown provision action 'explode'",
      `operation ${gone.operationId} not found in the LINBO API`,
    ]);
    assert.ok(logs.some((l) => /^warn entry .* cannot be processed \(unknown job type 'wipe_everything'\); moved to the DLQ$/.test(l)), logs.join('\n'));
    assert.equal(await w.pending(), 0);
  });

  test('jobs queued before the group existed are delivered (upstream\'s `$` skipped them); one older than JOB_MAX_AGE_SEC is reported expired, not run', { timeout: 90_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-${Date.now()}`));
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    // a job queued three days ago (its entry ID says when), then 20 new ones, all before the group existed
    const old = await w.api.queueMacct('pc-old');
    const [queued] = (await w.redisClient.xrange('linbo:jobs', '-', '+')) as [string, string[]][];
    await w.redisClient.del('linbo:jobs');
    await w.redisClient.xadd('linbo:jobs', `${Date.now() - 3 * 86_400_000}-0`, ...queued![1]);
    const fresh: string[] = [];
    for (let i = 1; i <= 20; i++) fresh.push((await w.api.queueMacct(`pc-new-${i}`)).operationId);
    // the LINBO API restarted: it creates the group at `$`, behind all of them
    await w.redisClient.xgroup('CREATE', 'linbo:jobs', 'dc-workers', '$');

    const first = await once(w);
    assert.equal(first.summary.received, 21, first.logs.join('\n'));
    assert.equal(first.summary.completed, 20);
    assert.equal(first.summary.expired, 1);
    for (const id of fresh) assert.deepEqual(terminal(w, id), ['completed']);
    assert.deepEqual(terminal(w, old.operationId), ['failed']);
    assert.match(String(w.api.operations.get(old.operationId)!.error), /^expired: queued 72 h ago, longer than JOB_MAX_AGE_SEC=86400; not run$/);
    assert.equal(readFileSync(repair.argvLog, 'utf8').split('\n').filter((l) => l.includes('pc-old')).length, 0, 'the expired job did not run');
    assert.deepEqual((await w.api.dlq()).map((d) => d.operation_id), [old.operationId]);
    assert.ok(first.logs.some((l) => /^info no consumer had joined the group yet/.test(l)), first.logs.join('\n'));
    assert.equal(await w.pending(), 0);

    // a group consumers have joined is never set back: nothing is delivered twice
    const second = await once(w);
    assert.equal(second.summary.received, 0);
    assert.ok(!second.logs.some((l) => /no consumer had joined/.test(l)));
  });

  test('API 500 and timeouts: the outcome is reported once the API answers; no ACK before', { timeout: 60_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-500-${Date.now()}`));
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    const m = await w.api.queueMacct('pc-r101-03');
    // --once gives up after a few tries: the entry stays pending, exit 75
    w.api.faults.setFaults([parseFault('linbo.status:500@times=1000')]);
    const r1 = await cli(['dc', 'jobs', '--once'], w.site.env);
    assert.equal(r1.code, 75, r1.stderr);
    assert.match(r1.stderr, /PATCH status=running of operation .* failed \(LINBO API PATCH .*: 500 Internal server error\); trying again/);
    assert.ok(!r1.stderr.includes(KEY), 'the API key is never logged');
    assert.equal(await w.pending(), 1, 'not ACKed without a report');
    assert.equal(w.api.operations.get(m.operationId)!.status, 'pending');

    // the API recovers after two more 500s and one request it never answers (the worker gives up after API_TIMEOUT_SEC)
    w.api.faults.setFaults(['linbo.status:500@times=2', 'linbo.status:hang@times=1'].map((f) => parseFault(f)));
    const c = startConsumer(w);
    try {
      await waitFor(() => w.api.operations.get(m.operationId)!.status === 'completed', 'the report to get through', 30_000);
      await waitFor(async () => (await w.pending()) === 0, 'the ACK');
    } finally {
      await c.stop();
    }
    assert.deepEqual(terminal(w, m.operationId), ['completed']);
  });
});

describe('dc jobs: Redis', () => {
  test('Redis restarted mid-run: the consumer reconnects by itself and keeps processing', { timeout: 90_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-restart-${Date.now()}`));
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    const c = startConsumer(w);
    try {
      const a = await w.api.queueMacct('pc-a');
      await waitFor(() => w.api.operations.get(a.operationId)!.status === 'completed', 'job a');
      await w.redis.restart({ downMs: 300 });
      const b = await w.api.queueMacct('pc-b');
      await waitFor(() => w.api.operations.get(b.operationId)!.status === 'completed', 'job b after the restart', 30_000);
      await waitFor(async () => (await w.pending()) === 0, 'the ACK of job b');
    } finally {
      await c.stop();
    }
    assert.ok(c.logs.some((l) => /^warn Redis 127\.0\.0\.1:\d+: .*; reconnecting$/.test(l)), c.logs.join('\n'));
  });

  test('wrong Redis password: exit 4 with a clear message that does not show the password', { timeout: 30_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const w = await world({ password: 'right-pass-93', workerExtra: ['REDIS_PASSWORD=wrong-pass-11'] });
    const r = await cli(['dc', 'jobs', '--once'], w.site.env);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /labops: Redis at 127\.0\.0\.1:\d+: Redis rejected the password \(WRONGPASS\): check REDIS_PASSWORD/);
    assert.ok(!r.stderr.includes('wrong-pass-11') && !r.stderr.includes('right-pass-93'));
    const none = await world({ password: 'right-pass-93' });
    const r2 = await cli(['dc', 'jobs', '--once'], none.site.env);
    assert.equal(r2.code, 4);
    assert.match(r2.stderr, /requires a password \(NOAUTH\)/);
  });

  test('several consumers share the work through the group; each job is reported once', { timeout: 90_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-share-${Date.now()}`), { sleepMs: 100 });
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`, 'MACCT_CONCURRENCY=1'] });
    const c1 = startConsumer(w, { consumer: 'dc-1' });
    const c2 = startConsumer(w, { consumer: 'dc-2' });
    // both in the group (a consumer appears with its first XREADGROUP) before any job arrives
    await waitFor(async () => ((await w.redisClient.xinfo('CONSUMERS', 'linbo:jobs', 'dc-workers')) as unknown[]).length === 2, 'both consumers to join');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await w.api.queueMacct(`pc-s${i}`)).operationId);
    await waitFor(() => ids.every((id) => w.api.operations.get(id)!.status === 'completed'), 'all 20 jobs', 60_000);
    const [s1, s2] = [await c1.stop(), await c2.stop()];
    assert.equal(s1.completed + s2.completed, 20);
    assert.ok(s1.completed > 0 && s2.completed > 0, `both consumers worked: ${s1.completed} + ${s2.completed}`);
    for (const id of ids) assert.deepEqual(terminal(w, id), ['completed']);
    assert.equal(await w.pending(), 0);
  });
});

/** state and process group of every process, from /proc */
function readProcStates(): { state: string; pgrp: number }[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [{ state: rest[0] ?? '', pgrp: Number(rest[2]) }];
    } catch {
      return [];
    }
  });
}

describe('dc jobs: crash in the middle of a provision batch', () => {
  test('SIGKILL during the import: the lock stays held while the orphaned import runs; then another consumer takes over, each job completed once', { timeout: 240_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const slow = join(work.path, 'slow-import-kill.sh');
    // consumer A's import hangs while the flag file exists (the import script does not see labops' environment);
    // it writes its pid (its process group's id) to the marker first
    const marker = join(work.path, `import-started-${Date.now()}`);
    const slowFlag = `${marker}.slow`;
    writeFileSync(slowFlag, '');
    writeFileSync(slow, `#!/bin/sh\nif [ -e "${slowFlag}" ]; then echo $$ > "${marker}.tmp" && mv "${marker}.tmp" "${marker}"; sleep 60; fi\nexec "${fixturePath('fake-import-devices.mjs')}" "$@"\n`, { mode: 0o755 });
    // a short debounce gathers all six into one batch (a consumer reads no more than it can start at once)
    const w = await world({ importScript: slow, workerExtra: ['PROVISION_DEBOUNCE_SEC=1'] });
    const original = readFileSync(w.site.master, 'utf8');
    const ids: string[] = [];
    for (let i = 31; i <= 36; i++) ids.push((await w.api.queueProvision('create', host(i))).operationId);
    const child = spawn(process.execPath, ['--import', 'tsx', fixturePath('labops-src.ts'), 'dc', 'jobs', '--consumer', 'dc-a'], {
      env: { ...process.env, ...w.site.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    await waitFor(() => existsSync(marker), 'consumer A to reach the import', 60_000);
    const atKill = readFileSync(w.site.master, 'utf8');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    unlinkSync(slowFlag);
    assert.ok(ids.every((id) => w.api.operations.get(id)!.status === 'running'), stderr);
    assert.equal(await w.pending(), 6, 'A never ACKed');
    // A's import (its own process group) outlives A: no second import may start beside it
    const orphan = Number(readFileSync(marker, 'utf8').trim());
    await assert.rejects(acquireLock(w.site.lock), (e: unknown) => e instanceof TempFail && /(slow-import-kill\.sh|import-devices) \(process group \d+\).*labops dc jobs consumer dc-a/.test((e as Error).message));
    process.kill(-orphan, 'SIGKILL');
    const groupRuns = () => readProcStates().some((st) => st.pgrp === orphan && st.state !== 'Z');
    await waitFor(() => !groupRuns(), "the orphaned import's end");

    const b = startConsumer(w, { consumer: 'dc-b' });
    try {
      await waitFor(() => ids.every((id) => ['completed', 'failed'].includes(w.api.operations.get(id)!.status)), 'consumer B to finish the jobs', 120_000);
      await waitFor(async () => (await w.pending()) === 0, 'the ACKs');
    } finally {
      await b.stop();
    }
    for (const id of ids) assert.deepEqual(terminal(w, id), ['completed'], `operation ${id}`);
    const final = readFileSync(w.site.master, 'utf8');
    assert.ok(atKill === original || atKill === final, 'devices.csv at the kill is the old or the new file');
    for (let i = 31; i <= 36; i++) assert.match(final, new RegExp(`;${host(i).hostname};`));
    assert.ok(b.logs.some((l) => /stale provision lock/.test(l)), 'the dead consumer\'s lock was broken');
    assert.ok(b.logs.some((l) => /claimed 6 pending entries/.test(l)), b.logs.join('\n'));
  });
});

describe('dc jobs: each outcome reported once', () => {
  test('a PATCH or POST whose answer was lost (applied, answer late): checked, not sent again; attempts still counted once', { timeout: 90_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-late-${Date.now()}`));
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    // the API applies the completed PATCH but answers after API_TIMEOUT_SEC (0.5 s)
    w.api.faults.setFaults([parseFault('linbo.status:late=1500ms@times=1,status=completed')]);
    const ok = await w.api.queueMacct('pc-late-1');
    const c = startConsumer(w);
    try {
      await waitFor(async () => w.api.operations.get(ok.operationId)!.status === 'completed' && (await w.pending()) === 0, 'the job to complete and be ACKed', 30_000);
      await new Promise((r) => setTimeout(r, 2000)); // a re-sent PATCH would land by now
    } finally {
      await c.stop();
    }
    assert.deepEqual(statuses(w, ok.operationId), ['running', 'completed'], 'one completed report although its answer was lost');

    // a failing job whose POST retry is applied but answered late: re-queued once per failed run
    const failing = fakeRepairScript(join(work.path, `repair-late-fail-${Date.now()}`), { fail: true });
    const w2 = await world({ workerExtra: [`REPAIR_SCRIPT=${failing.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    w2.api.faults.setFaults([parseFault('linbo.retry:late=1500ms@times=1')]);
    const bad = await w2.api.queueMacct('pc-late-2');
    const c2 = startConsumer(w2);
    try {
      await waitFor(() => w2.api.operations.get(bad.operationId)!.status === 'failed', 'the job to fail for good', 60_000);
    } finally {
      await c2.stop();
    }
    assert.deepEqual(
      statuses(w2, bad.operationId),
      ['running', 'retrying', 'running', 'retrying', 'running', 'failed'],
      'three runs: a POST whose answer was lost did not re-queue the job twice',
    );
    assert.equal(readFileSync(failing.argvLog, 'utf8').trim().split('\n').length, 3);
  });

  test('an ACK lost with Redis data (the entry pending again after a restore from an older snapshot): only ACKed, not run or reported again', { timeout: 60_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-restore-${Date.now()}`));
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    const job = await w.api.queueMacct('pc-restore');
    assert.equal((await once(w)).summary.completed, 1);
    const entryId = ((await w.redisClient.xrange('linbo:jobs', '-', '+')) as [string, string[]][])[0]![0];
    // the PEL as an older snapshot had it: delivered to a consumer that is gone, never ACKed
    await w.redisClient.xclaim('linbo:jobs', 'dc-workers', 'dc-gone', 0, entryId, 'IDLE', 600_000, 'FORCE', 'JUSTID');
    assert.equal(await w.pending(), 1);
    const { summary, logs } = await once(w);
    assert.equal(summary.duplicates, 1, logs.join('\n'));
    assert.equal(summary.completed, 0);
    assert.equal(await w.pending(), 0);
    assert.deepEqual(terminal(w, job.operationId), ['completed']);
    assert.equal(readFileSync(repair.argvLog, 'utf8').trim().split('\n').length, 1, 'the repair ran once');
  });

  test('a consumer frozen mid-job (its keepalive stops): another one claims the entry; the frozen one, resumed, neither takes it back nor reports it', { timeout: 120_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-frozen-${Date.now()}`), { sleepMs: 2500 });
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`] });
    const a = spawn(process.execPath, ['--import', 'tsx', fixturePath('labops-src.ts'), 'dc', 'jobs', '--consumer', 'dc-a'], { env: { ...process.env, ...w.site.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    a.stderr.on('data', (c) => (stderr += c));
    const closed = new Promise((r) => a.once('close', r));
    let b: Run | undefined;
    try {
      await waitFor(async () => ((await w.redisClient.xinfo('CONSUMERS', 'linbo:jobs', 'dc-workers')) as unknown[]).length === 1, 'consumer A to join', 30_000);
      const job = await w.api.queueMacct('pc-frozen');
      await waitFor(() => statuses(w, job.operationId).includes('running'), 'A to start the job');
      a.kill('SIGSTOP'); // A's repair script runs on; A itself is silent for longer than CLAIM_IDLE_SEC (1 s)
      b = startConsumer(w, { consumer: 'dc-b' });
      await waitFor(() => statuses(w, job.operationId).filter((s) => s === 'running').length === 2, 'B to claim the entry and start the job', 30_000);
      a.kill('SIGCONT'); // A finishes its run while B is still on it
      await waitFor(() => statuses(w, job.operationId).includes('completed'), 'the job to complete', 30_000);
      await waitFor(() => /was claimed by another consumer while this one held it|finished by another consumer meanwhile/.test(stderr) || terminal(w, job.operationId).length > 1, 'A to finish its run', 30_000);
      await waitFor(async () => (await w.pending()) === 0, 'the ACK');
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(terminal(w, job.operationId), ['completed'], `one terminal report\n${stderr}`);
    } finally {
      a.kill('SIGCONT');
      a.kill('SIGTERM');
      await closed;
      await b?.stop();
    }
  });

  test('a second process with the same CONSUMER_NAME does not take the entries the first is working on', { timeout: 90_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const repair = fakeRepairScript(join(work.path, `repair-twin-${Date.now()}`), { sleepMs: 3000 });
    // CLAIM_IDLE_SEC=3: keepalive every second, own entries taken once idle for 2 s
    const w = await world({ workerExtra: [`REPAIR_SCRIPT=${repair.script}`, `LOG_DIR=${join(work.path, 'log')}`, 'CLAIM_IDLE_SEC=3'] });
    const first = startConsumer(w, { consumer: 'dc-twin' });
    let second: Run | undefined;
    try {
      const job = await w.api.queueMacct('pc-twin');
      await waitFor(() => statuses(w, job.operationId).includes('running'), 'the first to start the job');
      second = startConsumer(w, { consumer: 'dc-twin' });
      await waitFor(() => w.api.operations.get(job.operationId)!.status === 'completed', 'the job to complete', 30_000);
      await waitFor(async () => (await w.pending()) === 0, 'the ACK');
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(statuses(w, job.operationId), ['running', 'completed']);
      assert.equal(readFileSync(repair.argvLog, 'utf8').trim().split('\n').length, 1, 'the repair ran once');
      assert.ok(second.logs.some((l) => /^warn 1 pending entry of consumer dc-twin kept fresh within the last 2 s: another running process seems to use the same CONSUMER_NAME/.test(l)), second.logs.join('\n'));
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});

describe('dc jobs: LINBO_DOMAIN=auto', () => {
  test('the DNS check uses the AD domain of this DC (Samba realm from sam.ldb): <host>.lab.test; unreadable, the consumer does not start (exit 2)', { timeout: 90_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const w = await world({ workerExtra: ['LINBO_DOMAIN=auto'] });
    const id = (await w.api.queueProvision('create', host(41))).operationId;
    const looked: string[] = [];
    const logs: string[] = [];
    const summary = await runDcJobConsumer({
      env: w.site.env,
      signal: new AbortController().signal,
      once: true,
      log: (l, m) => logs.push(`${l} ${m}`),
      // the A record as the DC's DNS would answer it
      wrapProvisionPorts: (p) => ({ ...p, dnsResolves: async (fqdn) => (looked.push(fqdn), fqdn === 'pc41.lab.test') }),
    });
    assert.equal(summary.completed, 1, logs.join('\n'));
    assert.deepEqual(looked, ['pc41.lab.test']);
    assert.deepEqual((w.api.operations.get(id)!.result as { verify: unknown }).verify, { ad_object_exists: true, dns_a_exists: true, dhcp_configured: true, dns_ptr_exists: null });
    assert.ok(logs.includes('info DNS check of provisioned hosts: <host>.lab.test (Samba realm (LINBO_DOMAIN=auto))'), logs.join('\n'));

    const gone = makeSite(work.path, join(work.path, 'no-such', 'sam.ldb'), { workerExtra: ['LINBO_DOMAIN=auto', 'REDIS_HOST=127.0.0.1', `REDIS_PORT=${w.redis.port}`] });
    const r2 = await cli(['dc', 'jobs', '--once'], gone.env);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /LINBO_DOMAIN=auto: cannot read this DC's AD domain from .*no-such\/sam\.ldb: sam\.ldb not found/);
  });
});

