import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveWakeTargets, wake, type WakeDefaults, type WakePorts } from '../../src/ops/wake.js';
import { HostIndex, parseInventory } from '../../src/core/config/inventory.js';
import { UsageError } from '../../src/domain/errors.js';
import type { ProbeSpec } from '../../src/domain/probe-spec.js';
import { ManualClock, StubRegistry } from '../support/fakes.js';

const DEFAULTS: WakeDefaults = { broadcast: '255.255.255.255', port: 9, repeat: 3, attempts: 3, intervalMs: 10_000, timeoutMs: 10_000, concurrency: 8, probe: { kind: 'icmp' } };
const index = new HostIndex(
  parseInventory(
    JSON.stringify({
      hosts: [
        { name: 'ws1', address: '10.1.0.1', mac: '00:11:22:33:44:01' },
        { name: 'ws2', address: '10.1.0.2', mac: '00-11-22-33-44-02', broadcast: '10.1.0.255', wol_port: 7, wake_attempts: 5, probe: 'tcp:5986', ping_target: 'ws2.lab' },
        { name: 'nomac', address: '10.1.0.3' },
        { name: 'q', address: '10.1.0.4', mac: '00:11:22:33:44:04', quarantined: true },
      ],
    }),
    'hosts.json',
  ),
);

describe('resolving targets (all input checked before any packet)', () => {
  test('inventory settings, flags over inventory over defaults', () => {
    const [a, b] = resolveWakeTargets({ targets: ['WS1', 'ws2'], all: false }, index, DEFAULTS);
    assert.deepEqual(a, { host: 'ws1', mac: '00:11:22:33:44:01', pingTarget: '10.1.0.1', broadcast: '255.255.255.255', port: 9, attempts: 3, probe: { kind: 'icmp' }, configError: undefined });
    assert.equal(b!.broadcast, '10.1.0.255');
    assert.equal(b!.port, 7);
    assert.equal(b!.attempts, 5);
    assert.deepEqual(b!.probe, { kind: 'tcp', port: 5986 });
    assert.equal(b!.pingTarget, 'ws2.lab');
    const [c] = resolveWakeTargets({ targets: ['ws2'], all: false, broadcast: '127.0.0.1', port: 9999, attempts: 1, probe: { kind: 'icmp' } }, index, DEFAULTS);
    assert.equal(c!.broadcast, '127.0.0.1');
    assert.equal(c!.port, 9999);
    assert.equal(c!.attempts, 1);
    assert.deepEqual(c!.probe, { kind: 'icmp' });
  });

  test('a bare MAC in any form; a known MAC maps to its host', () => {
    const [a, b] = resolveWakeTargets({ targets: ['0011.2233.44ff', '00:11:22:33:44:01'], all: false }, index, DEFAULTS);
    assert.equal(a!.host, '00:11:22:33:44:ff');
    assert.equal(a!.pingTarget, undefined);
    assert.equal(b!.host, 'ws1');
  });

  test('--all skips quarantined hosts and reports hosts without a MAC as config errors', () => {
    const t = resolveWakeTargets({ targets: [], all: true }, index, DEFAULTS);
    assert.deepEqual(t.map((x) => x.host), ['ws1', 'ws2', 'nomac']);
    assert.equal(t[2]!.configError, 'MAC address not configured');
  });

  const bad: [string, Parameters<typeof resolveWakeTargets>[0], RegExp][] = [
    ['unknown host', { targets: ['ws9'], all: false }, /unknown host 'ws9'/],
    ['invalid MAC', { targets: ['ws1', '00:11:22:33:44:zz'], all: false }, /invalid MAC address '00:11:22:33:44:zz'/],
    ['named host without MAC', { targets: ['nomac'], all: false }, /host 'nomac' has no MAC address/],
    ['no target', { targets: [], all: false }, /no target/],
    ['both', { targets: ['ws1'], all: true }, /not both/],
  ];
  for (const [what, req, msg] of bad) {
    test(`${what} is a usage error`, () => {
      assert.throws(() => resolveWakeTargets(req, index, DEFAULTS), (e: unknown) => e instanceof UsageError && msg.test((e as Error).message));
    });
  }
});

type ProbeCall = { spec: ProbeSpec; host: string; timeoutMs: number };
function ports(clock: ManualClock, probes: StubRegistry<ProbeCall, { up: boolean }>) {
  const packets: { mac: string; address: string; port: number; repeat: number }[] = [];
  const p: WakePorts = {
    sendMagicPacket: async (t) => {
      packets.push(t);
    },
    probe: (spec, host, timeoutMs) => probes.call({ spec, host, timeoutMs }),
    sleep: clock.sleep,
    now: clock.now,
  };
  return { p, packets };
}
const OPTS = { repeat: 2, intervalMs: 10_000, timeoutMs: 4000, concurrency: 4, noWait: false };

describe('waking', () => {
  test('re-sends the packet on every attempt and reports the attempt that answered', async () => {
    const clock = new ManualClock();
    let probesSeen = 0;
    const probes = new StubRegistry<ProbeCall, { up: boolean }>().register('down twice, then up', (r) => r.host === '10.1.0.1', () => ({ up: ++probesSeen > 3 }));
    const { p, packets } = ports(clock, probes);
    const targets = resolveWakeTargets({ targets: ['ws1'], all: false }, index, DEFAULTS);
    const r = await wake(targets, OPTS, p);
    assert.equal(r.hosts[0]!.status, 'woke');
    assert.equal(r.hosts[0]!.attemptsUsed, 3);
    assert.equal(packets.length, 3, 'one send per attempt');
    assert.ok(packets.every((x) => x.repeat === 2 && x.address === '255.255.255.255' && x.port === 9));
    assert.equal(probes.calls[0]!.timeoutMs, 1000, 'the pre-check is short');
    assert.equal(probes.calls[1]!.timeoutMs, 4000);
    assert.equal(r.hosts[0]!.durationMs, 30_000);
    assert.equal(r.hosts[0]!.waitSeconds, 10);
    assert.deepEqual({ up: r.up, down: r.down }, { up: 1, down: 0 });
    probes.verify();
  });

  test('a host already up gets no packet', async () => {
    const clock = new ManualClock();
    const probes = new StubRegistry<ProbeCall, { up: boolean }>().register('up', () => true, () => ({ up: true }));
    const { p, packets } = ports(clock, probes);
    const r = await wake(resolveWakeTargets({ targets: ['ws1'], all: false }, index, DEFAULTS), OPTS, p);
    assert.equal(r.hosts[0]!.status, 'already-up');
    assert.equal(packets.length, 0);
  });

  test('a host that never answers uses every attempt; the result carries the wake-step detail fields', async () => {
    const clock = new ManualClock();
    const probes = new StubRegistry<ProbeCall, { up: boolean }>().register('down', () => true, () => ({ up: false }));
    const { p, packets } = ports(clock, probes);
    const r = await wake(resolveWakeTargets({ targets: ['ws2'], all: false }, index, DEFAULTS), OPTS, p);
    const h = r.hosts[0]!;
    assert.equal(h.status, 'no-response');
    assert.equal(h.success, false);
    assert.equal(h.message, 'Host did not accept TCP on port 5986');
    assert.equal(packets.length, 5);
    for (const k of ['mac', 'pingTarget', 'attemptsRequested', 'attemptsUsed', 'waitSeconds', 'port', 'broadcast']) assert.ok(k in h, k);
    assert.equal(h.attemptsRequested, 5);
    assert.equal(h.attemptsUsed, 5);
  });

  test('--no-wait only sends; hosts without a MAC fail without stopping the others', async () => {
    const clock = new ManualClock();
    const probes = new StubRegistry<ProbeCall, { up: boolean }>();
    const { p, packets } = ports(clock, probes);
    const r = await wake(resolveWakeTargets({ targets: [], all: true }, index, DEFAULTS), { ...OPTS, noWait: true }, p);
    assert.deepEqual(r.hosts.map((h) => h.status), ['sent', 'sent', 'error']);
    assert.equal(r.hosts[2]!.message, 'MAC address not configured');
    assert.equal(packets.length, 2);
    assert.equal(probes.calls.length, 0);
  });

  test('an aborted run stops starting hosts', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const probes = new StubRegistry<ProbeCall, { up: boolean }>().register('down', () => true, () => {
      ac.abort();
      return { up: false };
    });
    const { p } = ports(clock, probes);
    const r = await wake(resolveWakeTargets({ targets: [], all: true }, index, DEFAULTS), { ...OPTS, concurrency: 1 }, p, ac.signal);
    assert.equal(r.hosts.length, 1);
    assert.equal(r.hosts[0]!.status, 'aborted');
  });
});
