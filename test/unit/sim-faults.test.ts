// The simulators' fault and behaviour specs (`labops sim --fault/--latency/--cml-change/--station-fault`, the same
// strings at the control endpoint): what they mean, when a rule fires, and the errors that name the option.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultPlan, SimSpecError, formatLatency, parseFault, parseLatency } from '../../src/sim/faults.js';
import { parseStationFault } from '../../src/sim/station-faults.js';
import { formatChange, parseChange } from '../../src/sim/cml/world.js';
import { SimControls, parseBehaviour } from '../../src/sim/control.js';
import { parseControlAddress } from '../../src/app/sim.js';
import { UsageError } from '../../src/domain/errors.js';

describe('fault specs', () => {
  test('target, action, schedule and filters', () => {
    const r = parseFault('cml.detail:500@rate=0.25,times=3,server=sim-cml-02');
    assert.deepEqual({ sim: r.sim, endpoint: r.endpoint, action: r.action, schedule: r.schedule, filter: r.filter }, { sim: 'cml', endpoint: 'detail', action: { kind: 'status', status: 500 }, schedule: { rate: 0.25, times: 3 }, filter: { server: 'sim-cml-02' } });
    assert.deepEqual(parseFault('cml.list:html').action, { kind: 'html', status: 502 });
    assert.deepEqual(parseFault('cml.any:hang@from=30s,for=20s').schedule, { from: 30_000, for: 20_000 });
    assert.deepEqual(parseFault('linbo.status:late=1500ms@status=completed').action, { kind: 'late', ms: 1500 });
  });

  test('wrong specs name the option, the spec and the reason', () => {
    const cases: [string, RegExp][] = [
      ['cml.list', /expected <simulator>\.<endpoint>:<fault>/],
      ['vmware.list:500', /simulator of cml, linbo, station/],
      ['cml.nope:500', /unknown cml endpoint 'nope'/],
      ['cml.list:teapot', /unknown fault 'teapot'/],
      ['cml.list:html=200', /html: expected a 4xx or 5xx status/],
      ['cml.list:500@rate=1.5', /rate: expected a probability/],
      ['cml.list:500@times=0', /times: expected a whole number of at least 1/],
      ['cml.list:500@period=10s', /period: needs for= shorter/],
      ['cml.list:500@host=x', /host= applies to station faults only/],
      ['linbo.get:empty', /empty applies to cml\.list only/],
      ['station.command:500', /station\.command takes hang only/],
    ];
    for (const [spec, reason] of cases) {
      assert.throws(() => parseFault(spec, '--fault'), (e: unknown) => e instanceof SimSpecError && e.message.startsWith(`--fault '${spec}': `) && reason.test(e.message), spec);
    }
  });

  test('times=, after= and every= decide which matching requests fire; other requests and filtered-out ones never do', () => {
    const plan = new FaultPlan('cml');
    plan.setFaults([parseFault('cml.list:500@after=1,every=2,times=2,server=a'), parseFault('linbo.get:500')]);
    const fired = Array.from({ length: 8 }, () => plan.take({ endpoint: 'list', server: 'a' })?.kind ?? '-');
    assert.deepEqual(fired, ['-', '-', 'status', '-', 'status', '-', '-', '-']);
    assert.equal(plan.take({ endpoint: 'list', server: 'b' }), undefined);
    assert.deepEqual(plan.state(), [], 'the rule is gone once its times are used, and the linbo rule was never this plan\'s');
    assert.equal(plan.fired.get('list'), 2);
  });

  test('a window (from=, for=, period=) follows the clock', () => {
    let now = 0;
    const plan = new FaultPlan('cml', { now: () => now });
    plan.setFaults([parseFault('cml.any:503@from=10s,for=5s,period=20s')]);
    const at = (t: number) => ((now = t), plan.take({ endpoint: 'detail' })?.kind ?? '-');
    assert.deepEqual([at(0), at(9_999), at(10_000), at(14_999), at(15_000), at(30_000), at(36_000)], ['-', '-', 'status', 'status', '-', 'status', '-']);
  });
});

describe('latency, change and station fault specs', () => {
  test('latency per request kind, a range drawn per request, <sim>.any the default', () => {
    const l = parseLatency('cml.auth=300ms,cml.any=20ms-80ms,station.command=1s');
    assert.equal(formatLatency(l), 'cml.auth=300ms,cml.any=20ms-80ms,station.command=1000ms');
    const plan = new FaultPlan('cml');
    plan.setLatency(l);
    assert.equal(plan.latencyFor('auth'), 300);
    for (let i = 0; i < 20; i++) assert.ok(plan.latencyFor('detail') >= 20 && plan.latencyFor('detail') <= 80);
    assert.throws(() => parseLatency('cml.any=soon'), /--latency 'cml\.any=soon'/);
    assert.throws(() => parseLatency('cml.any=80ms-20ms'), /--latency/);
  });

  test('CML change: defaults fill what is not named, off is none', () => {
    assert.equal(formatChange(parseChange('every=10s,state=0.5', 60_000)), 'every=10000ms,state=0.5,nodes=0.03,title=0.03,create=0.3,delete=0.3');
    assert.equal(parseChange('off', 60_000), undefined);
    assert.throws(() => parseChange('state=2', 60_000), /--cml-change 'state=2': state: expected a probability/);
    assert.throws(() => parseChange('flood=1', 60_000), /unknown change 'flood'/);
  });

  test('station faults: selectors, values, errors', () => {
    assert.deepEqual(parseStationFault('all:local-user=teacher'), { spec: 'all:local-user=teacher', selector: 'all', kind: 'local-user', value: 'teacher' });
    assert.equal(parseStationFault('2-5:boot-delay=30s').ms, 30_000);
    assert.throws(() => parseStationFault('5-2:winrm-down'), /runs backwards/);
    assert.throws(() => parseStationFault('1:on-fire'), /--station-fault '1:on-fire': unknown station fault 'on-fire'/);
    assert.throws(() => parseStationFault('1:winrm-down=yes'), /winrm-down takes no value/);
  });
});

describe('the control endpoint: address and applying options', () => {
  test('it listens on loopback only', () => {
    assert.deepEqual(parseControlAddress('127.0.0.1:0'), { address: '127.0.0.1', port: 0 });
    assert.deepEqual(parseControlAddress('[::1]:7070'), { address: '::1', port: 7070 });
    assert.deepEqual(parseControlAddress('7070'), { address: '127.0.0.1', port: 7070 });
    for (const bad of ['0.0.0.0:7070', '10.0.0.1:80', 'localhost:80', '127.0.0.1:70000', 'x']) assert.throws(() => parseControlAddress(bad), UsageError, bad);
  });

  test('parseBehaviour names each field as the caller spells it', () => {
    assert.throws(() => parseBehaviour({ fault: ['cml.list:teapot'] }, { name: (f) => f, changeEveryMs: 1000 }), /^SimSpecError: fault 'cml\.list:teapot'/);
    assert.throws(() => parseBehaviour({ 'cml-token-ttl': '10ms' }, { name: (f) => `--${f}`, changeEveryMs: 1000 }), /--cml-token-ttl '10ms': expected a duration of at least 1s/);
  });

  test('options apply together or not at all; a fault for a simulator that does not run is refused', async () => {
    const cml = new FaultPlan('cml');
    const controls = new SimControls({ cml: { controllers: [], faults: cml } }, 60_000);
    await controls.apply({ fault: ['cml.list:500'], latency: 'cml.any=10ms' }, (f) => f);
    const before = controls.state();
    assert.deepEqual(before.options.fault, ['cml.list:500']);
    await assert.rejects(controls.apply({ fault: ['cml.detail:503'], latency: 'cml.any=soon' }, (f) => f), /latency 'cml\.any=soon'/);
    await assert.rejects(controls.apply({ fault: ['linbo.status:500'] }, (f) => f), /no linbo simulator runs/);
    await assert.rejects(controls.apply({ 'station-fault': ['1:winrm-down'] }, (f) => f), /no stations run/);
    assert.deepEqual(controls.state(), before);
    assert.equal(cml.latencyFor('detail'), 10);
  });
});
