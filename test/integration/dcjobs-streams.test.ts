// The consumer-group client against a real redis-server: registration, the keepalive that never takes an
// entry back, release, own pending entries, and how Redis errors are classified.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../support/redis.js';
import { classifyRedisError, RedisJobStream, RedisUnavailable } from '../../src/core/streams/redis-streams.js';
import { AuthFailed, OperationFailed } from '../../src/domain/errors.js';

let redis: TestRedis;
let raw: Redis;
const streams: RedisJobStream[] = [];
let n = 0;

before(async () => {
  redis = await startRedis();
  raw = new Redis({ host: '127.0.0.1', port: redis.port, protocol: 2, maxRetriesPerRequest: null });
});
after(async () => {
  for (const s of streams) s.close();
  raw.disconnect();
  await redis.stop();
});

/** A consumer on a stream of its own (every test starts from an empty stream). */
async function consumer(name: string, stream = `s${n}`): Promise<RedisJobStream> {
  const s = await RedisJobStream.connect({ host: '127.0.0.1', port: redis.port }, { stream, group: 'g', consumer: name, dlq: `${stream}:dlq` });
  streams.push(s);
  await s.ensureGroup();
  return s;
}
const idleOf = async (stream: string, id: string) => Number(((await raw.xpending(stream, 'g', id, id, 1)) as [string, string, number, number][])[0]![2]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RedisJobStream (real Redis)', () => {
  test('a consumer shows in XINFO CONSUMERS from its start', async () => {
    const stream = `s${++n}`;
    await consumer('dc-a', stream);
    const list = (await raw.xinfo('CONSUMERS', stream, 'g')) as unknown[][];
    assert.deepEqual(list.map((c) => c[1]), ['dc-a']);
  });

  test('keepalive refreshes what this consumer holds, says who holds the rest, and never takes back an entry another consumer claimed', async () => {
    const stream = `s${++n}`;
    const a = await consumer('dc-a', stream);
    const b = await consumer('dc-b', stream);
    const [id1, id2, id3] = [await a.add({ k: '1' }), await a.add({ k: '2' }), await a.add({ k: '3' })];
    assert.equal((await a.read(10, undefined)).length, 3);
    await a.ack([id3]);
    await sleep(60);
    assert.deepEqual((await b.claim([id2], 50)).map((e) => e.id), [id2], 'dc-a was silent: dc-b claims id2');
    // idle since the read (at least the 60 ms slept); the keepalive sets it back to 0 (compared, not timed: a loaded
    // machine may take any time between the calls)
    const idleBefore = await idleOf(stream, id1);
    assert.deepEqual(await a.keep([id1, id2, id3]), ['mine', 'other', 'none']);
    assert.ok((await idleOf(stream, id1)) < idleBefore, 'id1 refreshed');
    const owners = ((await raw.xpending(stream, 'g', '-', '+', 10)) as [string, string][]).map(([id, c]) => [id, c]);
    assert.deepEqual(owners, [[id1, 'dc-a'], [id2, 'dc-b']], 'id2 stays with dc-b');
  });

  test('release: an entry left unfinished is idle at once, for the next run and for others; own pending entries list their idle time', async () => {
    const stream = `s${++n}`;
    const a = await consumer('dc-a', stream);
    const b = await consumer('dc-b', stream);
    const id = await a.add({ k: '1' });
    await a.read(10, undefined);
    assert.deepEqual(await b.claim([id], 60_000), [], 'fresh: not claimable');
    await a.release([id], 60_000);
    const [own] = await a.ownPending(10);
    assert.equal(own!.id, id);
    assert.ok(own!.idleMs >= 60_000, `idle ${own!.idleMs}`);
    assert.deepEqual((await b.autoclaim(60_000)).entries.map((e) => e.id), [id], 'another consumer takes it at once');
  });

  test('XACK and the keepalive after Redis lost the group: nothing to acknowledge, nobody holds it', async () => {
    const stream = `s${++n}`;
    const a = await consumer('dc-a', stream);
    const id = await a.add({ k: '1' });
    await a.read(10, undefined);
    await raw.del(stream);
    assert.equal(await a.ack([id]), 0);
    assert.deepEqual(await a.keep([id]), ['none']);
  });

  test('errors leave classified: refused for good, unreachable, password; a bug stays a bug', async () => {
    const stream = `s${++n}`;
    await raw.set(stream, 'not a stream');
    const a = await RedisJobStream.connect({ host: '127.0.0.1', port: redis.port }, { stream, group: 'g', consumer: 'dc-a', dlq: 'dlq' });
    streams.push(a);
    await assert.rejects(a.ensureGroup(), (e) => e instanceof OperationFailed && /^Redis XGROUP CREATE s\d+: WRONGTYPE/.test(e.message));
    const reply = (m: string) => Object.assign(new Error(m), { name: 'ReplyError' });
    assert.ok(classifyRedisError(reply('LOADING Redis is loading the dataset in memory'), 'XACK x') instanceof RedisUnavailable);
    assert.ok(classifyRedisError(new Error('connect ECONNREFUSED 127.0.0.1:6379'), 'XACK x') instanceof RedisUnavailable);
    assert.ok(classifyRedisError(new Error('Connection is closed.'), 'XACK x') instanceof RedisUnavailable);
    assert.ok(classifyRedisError(reply('WRONGPASS invalid username-password pair'), 'XACK x') instanceof AuthFailed);
    const bug = new TypeError('x is not a function');
    assert.equal(classifyRedisError(bug, 'XACK x'), bug);
  });
});
