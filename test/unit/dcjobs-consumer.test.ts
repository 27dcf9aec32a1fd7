// The DC job protocol (parse, attempts, backoff, batches) and the consumer's lanes with fake ports.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJobMessage, parseRepairScriptOutput, retryDecision, takeBatch, type OperationRecord } from '../../src/domain/dc-jobs.js';
import { consumeDcJobs, consumerConfig, defaultDcJobsSettings, errorKind, type DcJobsPorts, type DcJobsSettings } from '../../src/ops/dc-jobs.js';
import { resolveMacctWorkerConfig } from '../../src/core/config/macct-worker-conf.js';
import { RedisUnavailable, type StreamEntry } from '../../src/core/streams/redis-streams.js';
import { ApiAnswerLost, ApiUnavailable, OperationNotFound } from '../../src/core/http-apis/linbo-client.js';
import { AuthFailed, Interrupted, OperationFailed, TempFail, UsageError } from '../../src/domain/errors.js';
import type { BatchJobInput } from '../../src/ops/provision-hosts.js';

describe('job messages', () => {
  test('macct and provision entries parse; bad ones say why', () => {
    const m = parseJobMessage('1-0', { type: 'macct_repair', operation_id: 'op1', host: 'pc01', school: 'default-school', attempt: '2', created_at: 'x' });
    assert.equal(m.type, 'macct_repair');
    assert.equal(m.type === 'macct_repair' && m.attempt, 2);
    const p = parseJobMessage('2-0', { type: 'provision_host', operation_id: 'op2', action: 'delete', attempt: '0' });
    assert.equal(p.type === 'provision_host' && p.school, 'default-school', 'a missing school is default-school');
    const reason = (f: Record<string, string>) => {
      const r = parseJobMessage('3-0', f);
      return r.type === 'invalid' ? r.reason : 'valid';
    };
    assert.equal(reason({ type: 'x', operation_id: 'a' }), "unknown job type 'x'");
    assert.equal(reason({ operation_id: 'a' }), 'missing field type');
    assert.equal(reason({ type: 'macct_repair', host: 'h' }), 'missing field operation_id');
    assert.equal(reason({ type: 'macct_repair', operation_id: 'a' }), 'missing field host');
    assert.equal(reason({ type: 'macct_repair', operation_id: 'a', host: 'h', attempt: 'one' }), "invalid attempt 'one'");
    assert.equal(reason({ type: 'provision_host', operation_id: 'a', action: 'move' }), "unknown provision action 'move'");
  });

  test('retries: three runs in all, exponential delays with a cap', () => {
    const p = { maxAttempts: 3, baseMs: 10_000, maxMs: 15_000 };
    assert.deepEqual(retryDecision(0, p), { final: false, delayMs: 10_000 });
    assert.deepEqual(retryDecision(1, p), { final: false, delayMs: 15_000 }, '20 s capped at 15 s');
    assert.deepEqual(retryDecision(2, p), { final: true });
    assert.deepEqual(retryDecision(0, { ...p, maxAttempts: 5, maxMs: 1e9 }), { final: false, delayMs: 10_000 });
    assert.deepEqual(retryDecision(3, { ...p, maxAttempts: 5, maxMs: 1e9 }), { final: false, delayMs: 80_000 });
    assert.deepEqual(retryDecision(0, { ...p, maxAttempts: 1 }), { final: true });
  });

  test('batches: the oldest job\'s school, in order, up to the size; others stay queued', () => {
    const q = [{ school: 'a', n: 1 }, { school: 'b', n: 2 }, { school: 'a', n: 3 }, { school: 'a', n: 4 }, { school: 'b', n: 5 }];
    assert.deepEqual(takeBatch(q, 2).map((x) => x.n), [1, 3]);
    assert.deepEqual(q.map((x) => x.n), [2, 4, 5]);
    assert.deepEqual(takeBatch(q, 10).map((x) => x.n), [2, 5]);
    assert.deepEqual(takeBatch([], 3), []);
  });

  test('the repair script\'s stdout, read as the worker reads it', () => {
    assert.deepEqual(parseRepairScriptOutput('Updated unicodePwd\nfixed pwdLastSet\n\n'), { processed: true, stdout_lines: 2, unicodePwd_updated: true, pwdLastSet_fixed: true });
    assert.deepEqual(parseRepairScriptOutput('Host pc01 SKIPPED: No changes'), { processed: true, stdout_lines: 1, skipped: true, no_changes: true });
  });
});

/** An in-memory stream, API and clock; records the order of reports and ACKs. */
function fakes(o: { repair?: DcJobsPorts['repairMacct']; provision?: DcJobsPorts['provisionBatch'] } = {}) {
  const entries: StreamEntry[] = [];
  let readPos = 0;
  let seq = 0;
  const acked: string[] = [];
  const dlq: Record<string, string>[] = [];
  const events: string[] = [];
  const sleeps: number[] = [];
  const ops = new Map<string, OperationRecord>();
  const add = (fields: Record<string, string>) => {
    const id = `${++seq}-0`;
    entries.push({ id, fields });
    return id;
  };
  const addOp = (type: 'macct_repair' | 'provision_host', extra: Record<string, string> = {}, options: Record<string, unknown> = {}) => {
    const id = `op${seq + 1}`;
    ops.set(id, { id, type, status: 'pending', attempt: 0, targetHost: extra.host ?? null, options });
    add({ type, operation_id: id, school: 'default-school', attempt: '0', ...extra });
    return id;
  };
  const ports: DcJobsPorts = {
    stream: {
      ensureGroup: async () => ({ rewound: false }),
      read: async (count) => {
        const out = entries.slice(readPos, readPos + count);
        readPos += out.length;
        return out;
      },
      ownPending: async () => [],
      claim: async () => [],
      autoclaim: async () => ({ entries: [], deleted: [] }),
      ack: async (ids) => {
        acked.push(...ids);
        for (const id of ids) events.push(`ack ${id}`);
        return ids.length;
      },
      keep: async (ids) => ids.map(() => 'mine' as const),
      release: async () => {},
      deadLetter: async (f) => {
        dlq.push(f);
        return 'd';
      },
    },
    api: {
      getOperation: async (id) => {
        const op = ops.get(id);
        if (!op) throw new OperationNotFound(`404 ${id}`);
        return { ...op };
      },
      updateStatus: async (id, u) => {
        const op = ops.get(id);
        if (!op) throw new OperationNotFound(`404 ${id}`);
        op.status = u.status;
        if (u.attempt !== undefined) op.attempt = u.attempt;
        events.push(`${u.status} ${id}${u.attempt !== undefined ? ` a=${u.attempt}` : ''}`);
      },
      // the real API: at the limit → DLQ + 400, else attempt+1 and a new entry
      retry: async (id) => {
        const op = ops.get(id)!;
        if (op.attempt >= 3) return { requeued: false, code: 'RETRY_FAILED', message: 'Max retries exceeded, moved to DLQ' };
        op.attempt++;
        op.status = 'retrying';
        const slim: Record<string, string> = op.type === 'provision_host' ? { action: String(op.options?.action) } : { host: String(op.targetHost) };
        add({ type: op.type, operation_id: id, ...slim, school: 'default-school', attempt: String(op.attempt) });
        events.push(`requeue ${id} a=${op.attempt}`);
        return { requeued: true, attempt: op.attempt };
      },
    },
    repairMacct: o.repair ?? (async () => ({ ok: true, result: { processed: true } })),
    provisionBatch:
      o.provision ??
      (async (jobs) => ({ outcomes: jobs.map((j) => ({ key: j.key, hostname: j.job.hostname, ok: true })), imported: true, dryRun: false, mergeStats: undefined })),
    now: () => 1_700_000_000_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    log: () => {},
  };
  return { ports, add, addOp, acked, dlq, events, sleeps, ops };
}

// the fake stream's IDs (1-0, 2-0, …) date from 1970: no expiry here (test/integration/dcjobs-consumer covers it)
const settings = (x: Partial<DcJobsSettings> = {}): DcJobsSettings => ({ ...defaultDcJobsSettings('t'), debounceMs: 0, maxJobAgeMs: 0, ...x });
const run = (f: ReturnType<typeof fakes>, s = settings()) => consumeDcJobs(s, f.ports, { signal: new AbortController().signal, once: true });
const tick = () => new Promise<void>((r) => setTimeout(r, 1));

/** A running (not --once) consumer on the fakes: reads block for a tick when the stream is empty, sleeps are a tick. */
function daemon(f: ReturnType<typeof fakes>, s = settings()) {
  const read = f.ports.stream.read;
  f.ports.stream.read = async (count, blockMs) => {
    const out = await read(count, blockMs);
    if (!out.length) await tick(); // XREADGROUP BLOCK
    return out;
  };
  f.ports.sleep = () => tick();
  const logs: string[] = [];
  f.ports.log = (l, m) => logs.push(`${l} ${m}`);
  const ctl = new AbortController();
  const done = consumeDcJobs(s, f.ports, { signal: ctl.signal });
  done.catch(() => {});
  return {
    ctl,
    done,
    logs,
    /** until `cond` holds, or `limit` ticks have passed (then the run is stopped: the caller's assertions fail) */
    async until(cond: () => boolean, limit = 5000) {
      for (let i = 0; i < limit && !cond(); i++) await tick();
      ctl.abort();
      return done;
    },
  };
}

describe('consumer (fake ports)', () => {
  test('a failing macct job: attempts counted once, real backoff between runs, DLQ after the third run', async () => {
    const f = fakes({ repair: async () => ({ ok: false, error: 'boom' }) });
    const id = f.addOp('macct_repair', { host: 'pc01' });
    for (let pass = 0; pass < 3; pass++) await run(f, settings({ retry: { maxAttempts: 3, baseMs: 1000, maxMs: 1500 } }));
    assert.deepEqual(
      f.events.filter((e) => !e.startsWith('ack')),
      [`running ${id} a=0`, `retrying ${id} a=0`, `requeue ${id} a=1`, `running ${id} a=1`, `retrying ${id} a=1`, `requeue ${id} a=2`, `running ${id} a=2`, `failed ${id}`],
    );
    assert.deepEqual(f.sleeps.filter((ms) => ms >= 1000), [1000, 1500], 'the delays grow and are capped');
    assert.equal(f.dlq.length, 1);
    assert.equal(f.dlq[0]!.last_error, 'boom');
    assert.equal(f.dlq[0]!.host, 'pc01');
    assert.deepEqual(f.acked, ['1-0', '2-0', '3-0']);
  });

  test('ACK only after the outcome is reported', async () => {
    const f = fakes();
    const id = f.addOp('macct_repair', { host: 'pc01' });
    await run(f);
    assert.deepEqual(f.events, [`running ${id} a=0`, `completed ${id}`, 'ack 1-0']);
  });

  test('macct jobs are not held back by a provision batch (separate lanes)', { timeout: 5000 }, async () => {
    let release!: () => void;
    const provisionGate = new Promise<void>((r) => (release = r));
    let batchEnded = false;
    const f = fakes({
      provision: async (jobs) => {
        await provisionGate;
        batchEnded = true;
        return { outcomes: jobs.map((j) => ({ key: j.key, hostname: j.job.hostname, ok: true })), imported: true, dryRun: false };
      },
      repair: async () => {
        // the provision batch is still waiting; the macct job runs anyway, then lets the batch go
        assert.equal(batchEnded, false);
        setTimeout(release, 0);
        return { ok: true, result: { processed: true } };
      },
    });
    f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: 'pc01', mac: 'aa:bb:cc:dd:ee:01', dryRun: false });
    const m = f.addOp('macct_repair', { host: 'pc02' });
    const sum = await run(f);
    assert.equal(sum.completed, 2);
    assert.ok(f.events.indexOf(`completed ${m}`) < f.events.indexOf('completed op1'));
  });

  test('a running consumer takes no more entries than it can start; the rest stay in the stream for the group', { timeout: 5000 }, async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const f = fakes({
      repair: async () => {
        started++;
        await gate;
        return { ok: true, result: { processed: true } };
      },
    });
    for (let i = 0; i < 5; i++) f.addOp('macct_repair', { host: `pc${i}` });
    const taken: number[] = [];
    const read = f.ports.stream.read;
    const tick = () => new Promise<void>((r) => setTimeout(r, 2));
    f.ports.stream.read = async (count, blockMs) => {
      const out = await read(count, blockMs);
      taken.push(out.length);
      if (!out.length) await tick(); // XREADGROUP BLOCK
      return out;
    };
    f.ports.sleep = () => tick();
    const ctl = new AbortController();
    const done = consumeDcJobs(settings({ macctConcurrency: 1, readCount: 10 }), f.ports, { signal: ctl.signal });
    try {
      while (started === 0) await tick();
      for (let i = 0; i < 10; i++) await tick();
      const total = taken.reduce((a, b) => a + b, 0);
      assert.equal(total, 1, 'one lane busy: one entry taken, four left for other consumers');
      release();
      while (f.acked.length < 5) await tick();
    } finally {
      release();
      ctl.abort();
    }
    const sum = await done;
    assert.equal(sum.completed, 5);
    assert.ok(taken.every((n) => n <= 1), `never more than the free lane: ${taken.join(',')}`);
  });

  test('batching: 120 provision jobs with batch size 50 → three batches, three imports', async () => {
    const sizes: number[] = [];
    const f = fakes({
      provision: async (jobs: BatchJobInput[]) => {
        sizes.push(jobs.length);
        return { outcomes: jobs.map((j) => ({ key: j.key, hostname: j.job.hostname, ok: true })), imported: true, dryRun: false };
      },
    });
    for (let i = 0; i < 120; i++) f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: `pc${i}`, mac: 'aa:bb:cc:dd:ee:01', dryRun: false });
    const sum = await run(f, settings({ batchSize: 50 }));
    assert.deepEqual(sizes, [50, 50, 20]);
    assert.equal(sum.importRuns, 3);
    assert.equal(sum.completed, 120);
    assert.equal(f.acked.length, 120);
  });

  test('dry-run and real jobs are separate runs; an invalid hostname fails alone', async () => {
    const calls: { dryRun: boolean; hosts: string[] }[] = [];
    const f = fakes({
      provision: async (jobs, o) => {
        calls.push({ dryRun: o.dryRun, hosts: jobs.map((j) => j.job.hostname) });
        return { outcomes: jobs.map((j) => ({ key: j.key, hostname: j.job.hostname, ok: true })), imported: !o.dryRun, dryRun: o.dryRun };
      },
    });
    f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: 'pc1', dryRun: true });
    f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: 'pc2', dryRun: false });
    const bad = f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: 'waytoolonghostname', dryRun: false });
    const sum = await run(f);
    assert.deepEqual(calls, [{ dryRun: true, hosts: ['pc1'] }, { dryRun: false, hosts: ['pc2'] }]);
    assert.equal(sum.importRuns, 1);
    assert.equal(f.ops.get(bad)!.status, 'failed');
  });

  test('a redelivered entry of a finished operation is only ACKed; a superseded attempt too', async () => {
    const f = fakes();
    const id = f.addOp('macct_repair', { host: 'pc01' });
    f.ops.get(id)!.status = 'completed';
    const old = f.addOp('macct_repair', { host: 'pc02' });
    f.ops.get(old)!.attempt = 1; // the entry says attempt 0
    const sum = await run(f);
    assert.equal(sum.duplicates, 2);
    assert.deepEqual(f.events, ['ack 1-0', 'ack 2-0']);
  });
});

describe('errors: kinds and where they lead', () => {
  test('transient: API or Redis unreachable, 401, lock held; gone: 404; failed: other labops errors; bug: anything else', () => {
    for (const e of [new ApiUnavailable('x'), new ApiAnswerLost('x'), new RedisUnavailable('x'), new AuthFailed('x'), new TempFail('x')]) assert.equal(errorKind(e), 'transient', e.constructor.name);
    assert.equal(errorKind(new OperationNotFound('x')), 'gone');
    assert.equal(errorKind(new Interrupted()), 'interrupted');
    assert.equal(errorKind(new OperationFailed('x')), 'failed');
    assert.equal(errorKind(new UsageError('x')), 'failed');
    for (const e of [new TypeError('x'), new RangeError('x'), new Error('x'), 'a string']) assert.equal(errorKind(e), 'bug', String(e));
  });

  test('an error labops did not classify (a TypeError while reporting) is a bug: logged with its stack, the job fails after MAX_RETRIES runs, never retried forever', { timeout: 20_000 }, async () => {
    const f = fakes();
    const update = f.ports.api.updateStatus;
    let calls = 0;
    f.ports.api.updateStatus = async (id, u) => {
      calls++;
      if (u.status === 'running') throw new TypeError("Cannot read properties of undefined (reading 'status')");
      return update(id, u);
    };
    const id = f.addOp('macct_repair', { host: 'pc01' });
    const d = daemon(f);
    await d.until(() => f.ops.get(id)!.status === 'failed' || calls > 200);
    assert.ok(calls < 20, `the failing call was not retried forever (${calls} calls)`);
    assert.deepEqual(
      f.events.filter((e) => !e.startsWith('ack')),
      [`retrying ${id} a=0`, `requeue ${id} a=1`, `retrying ${id} a=1`, `requeue ${id} a=2`, `failed ${id}`],
      'three runs, each a failed attempt, then DLQ + failed',
    );
    assert.equal(f.dlq.length, 1);
    assert.match(f.dlq[0]!.last_error!, /^internal error: Cannot read properties of undefined/);
    assert.deepEqual(f.acked, ['1-0', '2-0', '3-0']);
    const bug = d.logs.find((l) => l.startsWith(`error macct_repair ${id}: internal error (a bug in labops`));
    assert.ok(bug, d.logs.join('\n'));
    assert.match(bug, /TypeError: Cannot read properties of undefined \(reading 'status'\)\n\s+at /, 'logged with its stack');
  });

  test('a bug in a provision batch is a failed run too: retried up to MAX_RETRIES, then DLQ + failed (it used to fail at once, without its stack)', async () => {
    const f = fakes({
      provision: async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'lines')");
      },
    });
    const logs: string[] = [];
    f.ports.log = (l, m) => logs.push(`${l} ${m}`);
    const id = f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: 'pc1', mac: 'aa:bb:cc:dd:ee:01', dryRun: false });
    for (let pass = 0; pass < 3; pass++) await run(f, settings({ retry: { maxAttempts: 3, baseMs: 10, maxMs: 10 } }));
    assert.deepEqual(
      f.events.filter((e) => !e.startsWith('ack')),
      [`running ${id}`, `retrying ${id} a=0`, `requeue ${id} a=1`, `running ${id}`, `retrying ${id} a=1`, `requeue ${id} a=2`, `running ${id}`, `failed ${id}`],
    );
    assert.equal(f.ops.get(id)!.status, 'failed');
    assert.equal(f.dlq.length, 1);
    assert.equal(f.dlq[0]!.host, 'pc1');
    assert.ok(logs.some((l) => /^error provision_host \S+: internal error \(a bug in labops.*\n\s+at /s.test(l)), logs.join('\n'));
  });

  test('classified transient failures keep waiting and trying: the API unreachable, Redis gone for a while; no attempt is used up', { timeout: 20_000 }, async () => {
    const f = fakes();
    const update = f.ports.api.updateStatus;
    let down = 6;
    f.ports.api.updateStatus = async (id, u) => {
      if (u.status === 'completed' && down-- > 0) throw new ApiUnavailable('LINBO API PATCH: 503 Service Unavailable');
      return update(id, u);
    };
    const ack = f.ports.stream.ack;
    let redisDown = 4;
    f.ports.stream.ack = async (ids) => {
      if (redisDown-- > 0) throw new RedisUnavailable('Redis XACK linbo:jobs: connection refused');
      return ack(ids);
    };
    const id = f.addOp('macct_repair', { host: 'pc01' });
    const d = daemon(f);
    const sum = await d.until(() => f.acked.length === 1);
    assert.deepEqual(f.events, [`running ${id} a=0`, `completed ${id}`, 'ack 1-0']);
    assert.equal(sum.completed, 1);
    assert.equal(sum.retried, 0);
    assert.ok(d.logs.some((l) => /^warn PATCH status=completed of operation \S+ failed \(LINBO API PATCH: 503 Service Unavailable\); trying again$/.test(l)), d.logs.join('\n'));
    assert.ok(d.logs.some((l) => /^info XACK 1-0: succeeded after 4 failed tries$/.test(l)), d.logs.join('\n'));
  });

  test('a held provision lock is a failed run, retried after its delay (classified: kept as it was)', async () => {
    const f = fakes({
      provision: async () => {
        throw new TempFail('held by pid 4242');
      },
    });
    const id = f.addOp('provision_host', { action: 'create' }, { action: 'create', hostname: 'pc1', mac: 'aa:bb:cc:dd:ee:01', dryRun: false });
    await run(f);
    assert.deepEqual(f.events.filter((e) => !e.startsWith('ack')), [`running ${id}`, `retrying ${id} a=0`, `requeue ${id} a=1`]);
    assert.equal(f.ops.get(id)!.status, 'retrying');
  });

  test('reading the stream fails with an error that will not pass (a bug): the consumer stops with it instead of retrying forever', { timeout: 20_000 }, async () => {
    const f = fakes();
    let reads = 0;
    f.ports.stream.read = async () => {
      reads++;
      throw new TypeError('reply.map is not a function');
    };
    const d = daemon(f);
    d.ctl.signal.addEventListener('abort', () => {});
    const stopped = await Promise.race([d.done.then(() => 'returned', (e: Error) => e.message), (async () => {
      for (let i = 0; i < 2000; i++) await tick();
      d.ctl.abort();
      return `still reading after ${reads} tries`;
    })()]);
    d.ctl.abort();
    assert.equal(stopped, 'reply.map is not a function');
    assert.equal(reads, 1);
    assert.ok(d.logs.some((l) => /^error reading linbo:jobs: TypeError: reply\.map is not a function\n\s+at .*the consumer stops$/s.test(l)), d.logs.join('\n'));
  });
});

describe('reported once', () => {
  test('a PATCH whose answer was lost is checked with a GET before it is sent again', async () => {
    const f = fakes();
    const update = f.ports.api.updateStatus;
    let lost = 1;
    f.ports.api.updateStatus = async (id, u) => {
      await update(id, u);
      if (u.status === 'completed' && lost-- > 0) throw new ApiAnswerLost('LINBO API PATCH: no answer within 10000 ms');
    };
    const id = f.addOp('macct_repair', { host: 'pc01' });
    const sum = await run(f);
    assert.deepEqual(f.events, [`running ${id} a=0`, `completed ${id}`, 'ack 1-0']);
    assert.equal(sum.completed, 1);
  });

  test('a POST retry whose answer was lost is not sent again once the API has re-queued the job', async () => {
    const f = fakes({ repair: async () => ({ ok: false, error: 'boom' }) });
    const retry = f.ports.api.retry;
    let lost = 1;
    f.ports.api.retry = async (id) => {
      const r = await retry(id);
      if (lost-- > 0) throw new ApiAnswerLost('LINBO API POST: no answer within 10000 ms');
      return r;
    };
    const id = f.addOp('macct_repair', { host: 'pc01' });
    await run(f);
    assert.deepEqual(f.events.filter((e) => !e.startsWith('ack')), [`running ${id} a=0`, `retrying ${id} a=0`, `requeue ${id} a=1`], 're-queued once');
    assert.deepEqual(f.acked, ['1-0']);
  });

  test('an outcome is not reported when another consumer has claimed the entry meanwhile, nor when the operation was finished meanwhile', async () => {
    const f = fakes();
    const holders = new Map<string, 'mine' | 'other' | 'none'>();
    f.ports.stream.keep = async (ids) => ids.map((i) => holders.get(i) ?? 'mine');
    const a = f.addOp('macct_repair', { host: 'pc01' });
    const b = f.addOp('macct_repair', { host: 'pc02' });
    f.ports.repairMacct = async (job) => {
      if (job.host === 'pc01') holders.set('1-0', 'other');
      else {
        holders.set('2-0', 'none');
        f.ops.get(b)!.status = 'completed'; // finished and ACKed elsewhere
      }
      return { ok: true, result: { processed: true } };
    };
    const sum = await run(f, settings({ macctConcurrency: 1 }));
    assert.deepEqual(f.events, [`running ${a} a=0`, `running ${b} a=0`]);
    assert.equal(sum.handedOver, 1);
    assert.equal(sum.duplicates, 1);
    assert.equal(sum.completed, 0);
  });

  test('a queued job whose entry another consumer claimed (keepalive says so) is dropped, not run', { timeout: 20_000 }, async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: string[] = [];
    const f = fakes({
      repair: async (job) => {
        ran.push(job.host);
        if (job.host === 'pc01') await gate;
        return { ok: true, result: { processed: true } };
      },
    });
    f.addOp('macct_repair', { host: 'pc01' });
    f.addOp('macct_repair', { host: 'pc02' });
    f.ports.stream.keep = async (ids) => ids.map((i) => (i === '2-0' ? 'other' : 'mine'));
    f.ports.now = () => Date.now();
    // one lane: pc02 waits in the queue behind pc01; readCount 2 lets the reader take both
    const d = daemon(f, settings({ macctConcurrency: 1, readCount: 2, keepaliveMs: 20 }));
    const read = f.ports.stream.read;
    f.ports.stream.read = async (count, blockMs) => read(Math.max(count, 2), blockMs);
    for (let i = 0; i < 2000 && !d.logs.some((l) => l.includes('entry 2-0 was claimed by another consumer')); i++) await tick();
    release();
    const sum = await d.until(() => f.acked.includes('1-0'));
    assert.deepEqual(ran, ['pc01']);
    assert.equal(sum.handedOver, 1);
    assert.equal(sum.completed, 1);
  });

  test('own pending entries: taken at once when nothing keeps them fresh, left alone when something does (another process with this CONSUMER_NAME)', async () => {
    const f = fakes();
    const s = settings({ keepaliveMs: 1000, claimIdleMs: 5000 });
    const id = f.addOp('macct_repair', { host: 'pc01' });
    const entry = { id: '1-0', fields: { type: 'macct_repair', operation_id: id, host: 'pc01', school: 'default-school', attempt: '0' } };
    const claimed: string[][] = [];
    f.ports.stream.read = async () => [];
    f.ports.stream.claim = async (ids, minIdle) => {
      claimed.push([...ids, `min ${minIdle}`]);
      return ids.includes('1-0') ? [entry] : [];
    };
    const logs: string[] = [];
    f.ports.log = (l, m) => logs.push(`${l} ${m}`);
    f.ports.stream.ownPending = async () => [{ id: '1-0', idleMs: 700, deliveries: 1 }];
    let sum = await run(f, s);
    assert.equal(sum.received, 0, 'kept fresh 0.7 s ago: in work elsewhere');
    assert.ok(logs.some((l) => /^warn 1 pending entry of consumer t kept fresh within the last 2 s: another running process seems to use the same CONSUMER_NAME/.test(l)), logs.join('\n'));
    f.ports.stream.ownPending = async () => [{ id: '1-0', idleMs: 2500, deliveries: 1 }];
    sum = await run(f, s);
    assert.equal(sum.completed, 1, 'idle 2.5 s: nothing keeps it fresh; taken at once');
    assert.deepEqual(claimed.at(-1), ['1-0', 'min 2000'], 'XCLAIM with the same min-idle, so a keepalive in between wins');
  });

  test('entries left unfinished are released for the next run', async () => {
    const f = fakes();
    const released: string[][] = [];
    f.ports.stream.release = async (ids) => void released.push([...ids]);
    f.ports.api.updateStatus = async () => {
      throw new ApiUnavailable('LINBO API PATCH: ECONNREFUSED');
    };
    f.addOp('macct_repair', { host: 'pc01' });
    const sum = await run(f);
    assert.equal(sum.leftPending, 1);
    assert.deepEqual(released, [['1-0']]);
  });
});

describe('consumer settings from the worker config', () => {
  const wc = (values: Record<string, string>) => resolveMacctWorkerConfig(values, {}, {}, '/etc/macct-worker.conf');
  test('the worker keys and labops\' own, in ms; the keepalive a third of the claim time', () => {
    const c = consumerConfig(wc({ consumer_name: 'dc-01', claim_idle_sec: '30', provision_debounce_sec: '2', max_retries: '5', api_url: 'http://10.0.0.13:3000/api/v1' }));
    assert.equal(c.settings.consumer, 'dc-01');
    assert.equal(c.settings.claimIdleMs, 30_000);
    assert.equal(c.settings.keepaliveMs, 10_000);
    assert.equal(c.settings.debounceMs, 2000);
    assert.equal(c.settings.retry.maxAttempts, 5);
    assert.equal(c.apiUrl, 'http://10.0.0.13:3000/api/v1');
    assert.equal(c.redisPort, 6379);
  });

  test('a bad value is a usage error naming the file and the key (a bad API_URL used to fail every job as an API outage)', () => {
    assert.throws(() => consumerConfig(wc({ api_url: '10.0.0.13:3000/api/v1' })), (e) => e instanceof UsageError && e.message === "/etc/macct-worker.conf: invalid API_URL: '10.0.0.13:3000/api/v1' (e.g. http://10.0.0.13:3000/api/v1)");
    assert.throws(() => consumerConfig(wc({ redis_port: 'six' })), /\/etc\/macct-worker\.conf: invalid REDIS_PORT: 'six'/);
    assert.throws(() => consumerConfig(wc({ consumer_name: '' })), /CONSUMER_NAME is empty/);
  });
});

