import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeMac, macFromMagicPacket, magicPacket, parseMac } from '../../src/domain/mac.js';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';
import { parseProbeSpec } from '../../src/domain/probe-spec.js';
import { limiter, mapPool } from '../../src/domain/pool.js';

test('MACs in colon, dash, dot and bare forms, any case, become lower-case colon form', () => {
  for (const form of ['00:11:22:AA:bb:cc', '00-11-22-aa-BB-CC', '0011.22aa.bbcc', '001122AABBCC', ' 00:11:22:aa:bb:cc ']) {
    assert.equal(parseMac(form), '00:11:22:aa:bb:cc', form);
  }
});

test('invalid MACs are rejected', () => {
  for (const bad of ['00:11:22:33:44', '00:11:22:33:44:5g', '00:11-22:33:44:55', '0011.2233.44', 'lab-ws-01', '', '00:11:22:33:44:55:66']) {
    assert.equal(parseMac(bad), undefined, bad);
  }
  for (const shaped of ['00:11:22:33:44:zz', '00:11:22:33:44', '00-11-22-33-44-5g', 'zz11.2233.4455']) assert.ok(looksLikeMac(shaped), shaped);
  for (const name of ['lab-ws-01', 'ws1', 'pc-a1-b2']) assert.ok(!looksLikeMac(name), name);
});

test('magic packet is 6×FF then the MAC 16 times, and round-trips', () => {
  const p = magicPacket('aa:bb:cc:dd:ee:ff');
  assert.equal(p.length, 102);
  assert.deepEqual([...p.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
  assert.deepEqual([...p.subarray(96, 102)], [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
  assert.equal(macFromMagicPacket(p), 'aa:bb:cc:dd:ee:ff');
  const broken = Uint8Array.from(p);
  broken[50] = 0;
  assert.equal(macFromMagicPacket(broken), undefined);
  assert.equal(macFromMagicPacket(p.subarray(0, 101)), undefined);
});

test('durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('7'), 7000);
  assert.equal(parseDuration('1h'), 3_600_000);
  for (const bad of ['', 'abc', '5 sec', '-1s', '1d']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(125_000), '2m5s');
});

test('probe specs', () => {
  assert.deepEqual(parseProbeSpec('icmp'), { kind: 'icmp' });
  assert.deepEqual(parseProbeSpec('TCP:5986'), { kind: 'tcp', port: 5986 });
  for (const bad of ['tcp:', 'tcp:0', 'tcp:70000', 'udp:1', 'tcp:abc']) assert.equal(parseProbeSpec(bad), undefined, bad);
});

test('mapPool keeps order and never exceeds the limit', async () => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapPool([5, 1, 4, 2, 3], 2, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, n));
    inFlight--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(peak, 2);
});

test('limiter: at most n in flight, waiting calls start in order, a failure frees its slot', async () => {
  const limit = limiter(2);
  let inFlight = 0;
  let peak = 0;
  const started: number[] = [];
  const job = (n: number) =>
    limit.run(async () => {
      started.push(n);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (n === 1) throw new Error('boom');
      return n;
    });
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map(job));
  assert.equal(peak, 2);
  assert.deepEqual(started, [1, 2, 3, 4, 5]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
});
