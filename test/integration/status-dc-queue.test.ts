// The status page's DC job queue against a real redis-server: waiting (the group's lag), in progress (read, not
// acknowledged) and dead letters, read through the worker config as the daemon does; an unreachable Redis is
// named on the page instead of failing it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../support/redis.js';
import { freePort } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { JobQueueProbe } from '../../src/core/streams/queue-depth.js';
import { statusReader } from '../../src/app/daemon/status.js';
import { Supervisor } from '../../src/ops/daemon/supervisor.js';
import { DLQ_STREAM, JOB_GROUP, JOB_STREAM } from '../../src/domain/dc-jobs.js';
import type { AppContext } from '../../src/app/context.js';
import type { Logger } from '../../src/core/logger.js';

const dir = tempDir('labops-status-dc-');
let redis: TestRedis;
let client: Redis;

before(async () => {
  redis = await startRedis({ password: 'redis-pw-5521', persist: false });
  client = new Redis({ host: redis.host, port: redis.port, password: 'redis-pw-5521' });
});
after(async () => {
  client.disconnect();
  await redis.stop();
  dir.cleanup();
});

/** Just enough of a context for the DC part: the worker config path; fleet and inventory are not asked for. */
function context(env: NodeJS.ProcessEnv): AppContext {
  const none = async (): Promise<never> => {
    throw new Error('not configured in this test');
  };
  return { env, clock: { now: () => Date.now(), sleep: async () => {} }, config: none, inventory: none } as unknown as AppContext;
}

const quietLog = { info() {}, warn() {}, error() {}, debug() {}, child: () => quietLog, addSecret() {}, scrub: (t: string) => t } as unknown as Logger;

test('waiting, in progress and dead letters as Redis counts them', async () => {
  const probe = new JobQueueProbe({ host: redis.host, port: redis.port, password: 'redis-pw-5521' });
  try {
    assert.deepEqual(await probe.depth(), { waiting: 0, pending: 0, deadLetters: 0 }, 'no stream yet');
    for (let i = 0; i < 3; i++) await client.xadd(JOB_STREAM, '*', 'type', 'macct_repair', 'operation_id', `op-${i}`);
    assert.deepEqual(await probe.depth(), { waiting: 3, pending: 0, deadLetters: 0 }, 'no group yet: everything waits');
    await client.xgroup('CREATE', JOB_STREAM, JOB_GROUP, '0');
    await client.xreadgroup('GROUP', JOB_GROUP, 'dc1', 'COUNT', 1, 'STREAMS', JOB_STREAM, '>');
    await client.xadd(DLQ_STREAM, '*', 'reason', 'unknown type');
    assert.deepEqual(await probe.depth(), { waiting: 2, pending: 1, deadLetters: 1 });
  } finally {
    probe.close();
  }
});

test('the snapshot carries the queue where the dc-jobs loop runs, leaves it out elsewhere, and names an unreachable Redis', async () => {
  const conf = join(dir.path, 'macct-worker.conf');
  writeFileSync(conf, `REDIS_HOST=127.0.0.1\nREDIS_PORT=${redis.port}\nREDIS_PASSWORD=redis-pw-5521\n`);
  const supervisor = new Supervisor({ now: Date.now, sleep: async () => {}, random: Math.random, log: quietLog }, 1000);
  const scrub = (t: string) => t.split('redis-pw-5521').join('***');
  const withDc = await statusReader(context({ MACCT_WORKER_CONF: conf }), { instance: 'i', supervisor, dcJobs: true, scrub });
  try {
    const s = await withDc.snapshot();
    assert.deepEqual(s.dc, { waiting: 2, pending: 1, deadLetters: 1, error: undefined });
  } finally {
    withDc.close();
  }
  const without = await statusReader(context({ MACCT_WORKER_CONF: conf }), { instance: 'i', supervisor, dcJobs: false, scrub });
  assert.equal((await without.snapshot()).dc, undefined);

  const down = join(dir.path, 'down.conf');
  writeFileSync(down, `REDIS_HOST=127.0.0.1\nREDIS_PORT=${await freePort()}\nREDIS_PASSWORD=redis-pw-5521\n`);
  const unreachable = await statusReader(context({ MACCT_WORKER_CONF: down }), { instance: 'i', supervisor, dcJobs: true, scrub });
  try {
    const s = await unreachable.snapshot();
    assert.equal(s.dc?.waiting, null);
    assert.match(s.dc?.error ?? '', /^Redis: /);
    assert.doesNotMatch(JSON.stringify(s), /redis-pw-5521/);
  } finally {
    unreachable.close();
  }
});
