// The poll's concurrency bounds the reads the stations (or the share) see; hosts already read may wait on the
// store beyond it, so a batch being written never holds every read slot (the store batches what is waiting).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pollHeartbeats, type HeartbeatSink, type HeartbeatSource } from '../../src/ops/heartbeat/poll.js';
import type { InventoryHost } from '../../src/core/config/inventory.js';

const HEARTBEAT = readFileSync(new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url));

const host = (i: number): InventoryHost => ({
  name: `ws-${i}`, address: `10.0.0.${i}`, winrmTransport: 'ntlm', labstationExe: 'x', heartbeatPath: 'h', eventsPath: 'e', labs: [], quarantined: false,
});

test('reads stay within the concurrency while more hosts than that wait on the store', async () => {
  const hosts = Array.from({ length: 12 }, (_, i) => host(i + 1));
  let reading = 0;
  let peakReads = 0;
  const source: HeartbeatSource = {
    kind: 'file',
    describe: (h, f) => `${h.name}/${f}`,
    async read() {
      reading++;
      peakReads = Math.max(peakReads, reading);
      await new Promise((r) => setTimeout(r, 2));
      reading--;
      return HEARTBEAT;
    },
  };
  // A store that answers only once 6 hosts wait (or every host has arrived): with the reads' concurrency of 2
  // also bounding the hosts waiting here, it would never answer.
  const waiting: (() => void)[] = [];
  let arrived = 0;
  const sink: HeartbeatSink = {
    store() {
      arrived++;
      return new Promise((resolve) => {
        waiting.push(() => resolve({ heartbeatStored: true, eventsStored: 0, forcedLogoffs: [] }));
        if (waiting.length >= 6 || arrived === hosts.length) for (const w of waiting.splice(0)) w();
      });
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the poll stalled: stores held every read slot')), 2_000)));
  const result = await Promise.race([pollHeartbeats({ hosts, allHosts: hosts, events: false, concurrency: 2 }, { source, sink, now: Date.now }), timeout]).finally(() => clearTimeout(timer));
  assert.equal(result.ok, 12);
  assert.deepEqual(result.hosts.map((h) => h.host), hosts.map((h) => h.name));
  assert.equal(peakReads, 2);
});

test("a host's duration is its own: the time it waited for a read slot is not counted", async () => {
  const hosts = Array.from({ length: 4 }, (_, i) => host(i + 1));
  let clock = 0;
  // every read takes 100 "ms" of the fake clock; with one read at a time the last host waits 300 for its slot
  const source: HeartbeatSource = {
    kind: 'file',
    describe: (h, f) => `${h.name}/${f}`,
    async read() {
      await new Promise((r) => setTimeout(r, 1));
      clock += 100;
      return HEARTBEAT;
    },
  };
  // with a store, every host is under way at once and waits for the one read slot
  const sink: HeartbeatSink = { store: async () => ({ heartbeatStored: true, eventsStored: 0, forcedLogoffs: [] }) };
  const result = await pollHeartbeats({ hosts, allHosts: hosts, events: false, concurrency: 1 }, { source, sink, now: () => clock });
  assert.deepEqual(result.hosts.map((h) => h.durationMs), [100, 100, 100, 100]);
});
