import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredAlerts, parseServerProbe, planAlerts } from '../../src/domain/server-metrics.js';

const OUTPUT = [
  'cpu1=cpu  100 0 100 700 100 0 0 0 0 0',
  'cpu2=cpu  150 0 150 750 150 0 0 0 0 0',
  'os=Red Hat Enterprise Linux 9.7 (Plow)',
  'virt=bhyve',
  'uptime=up 5 hours, 42 minutes',
  'sshd=active',
  'mem=1000 600',
  'disk=48%',
].join('\n');

test("cpu_usage keeps the collector's meaning, top's user % (us); the total busy % is kept beside it", () => {
  const m = parseServerProbe(OUTPUT);
  // delta user = 50, delta total = 50 user + 50 system + 50 idle + 50 iowait = 200
  assert.equal(m.cpuUsage, 25);
  // delta busy = 50 user + 50 system = 100 of 200 (idle and iowait excluded)
  assert.equal(m.cpuBusy, 50);
  assert.equal(m.memUsage, 40);
  assert.equal(m.diskUsage, 48);
  assert.deepEqual([m.osVersion, m.virtualization, m.uptime, m.sshdStatus], ['Red Hat Enterprise Linux 9.7 (Plow)', 'bhyve', 'up 5 hours, 42 minutes', 'active']);
  assert.deepEqual(m.problems, []);
});

test('missing values become NA/0 and are reported', () => {
  const m = parseServerProbe('sshd=inactive\n');
  assert.equal(m.osVersion, 'NA');
  assert.equal(m.cpuUsage, 0);
  assert.ok(m.problems.includes('cpu not reported'));
});

test('alerts: HOST_DOWN only when down, SSHD_DOWN when sshd is not active, thresholds optional', () => {
  const m = parseServerProbe(OUTPUT);
  assert.deepEqual([...desiredAlerts({ state: 'down', reason: 'x' }, {}).keys()], ['HOST_DOWN']);
  assert.deepEqual([...desiredAlerts({ state: 'up', metrics: m }, {}).keys()], []);
  assert.deepEqual([...desiredAlerts({ state: 'up', metrics: { ...m, sshdStatus: 'inactive' } }, { disk: 40, cpu: 90 }).keys()], ['SSHD_DOWN', 'DISK_HIGH']);
  // CPU_HIGH is judged by the total busy % (50), not the stored user % (25)
  assert.deepEqual([...desiredAlerts({ state: 'up', metrics: m }, { cpu: 40 }).entries()], [['CPU_HIGH', 'CPU busy 50% >= 40%']]);
});

test('one active alert per type: open only the new, clear the recovered, leave foreign types alone', () => {
  const plan = planAlerts(new Set(['HOST_DOWN', 'CUSTOM']), new Map([['SSHD_DOWN', 'SSHD service is down']]));
  assert.deepEqual(plan.open, [{ type: 'SSHD_DOWN', message: 'SSHD service is down' }]);
  assert.deepEqual(plan.clear, ['HOST_DOWN']);
  assert.deepEqual(planAlerts(new Set(['HOST_DOWN']), new Map([['HOST_DOWN', 'Server unreachable']])), { open: [], clear: [] });
});
