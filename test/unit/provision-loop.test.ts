import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoop, type Job } from '../../src/ops/provisioning/work-loop.js';

test('the loop keeps selecting while one item hangs, never exceeds the concurrency, and drains on abort', async () => {
  const controller = new AbortController();
  let queue = [1, 2, 3, 4, 5];
  const done: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let releaseHung: () => void = () => {};
  const hung = new Promise<void>((r) => (releaseHung = r));
  const job: Job<number> = {
    id: (n) => n,
    select: async (limit, exclude) => queue.filter((n) => !exclude.includes(n)).slice(0, limit),
    process: async (n) => {
      queue = queue.filter((x) => x !== n);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (n === 1) await hung;
      else await Promise.resolve();
      inFlight--;
      done.push(n);
      if (done.length === 4) controller.abort();
    },
  };
  let ticks = 0;
  const sleep = async () => {
    ticks++;
    await new Promise((r) => setImmediate(r));
  };
  const loop = runLoop(job, { concurrency: 2, batch: 10, intervalMs: 1000, sleep, onError: (e) => assert.fail(String(e)) }, controller.signal);
  for (let i = 0; i < 1000 && done.length < 4; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(done.sort(), [2, 3, 4, 5], 'the others ran beside the hung one');
  releaseHung();
  await loop;
  assert.equal(maxInFlight, 2);
  assert.ok(done.includes(1), 'in-flight work finished before the loop returned');
  assert.ok(ticks > 0);
});
