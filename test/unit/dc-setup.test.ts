// dc setup's hook wrapper and unit name the labops that runs them by absolute path, and a path that does not
// exist or cannot be written safely into sh and systemd is refused before anything is written; refused credentials
// are exit 4; dc check finds a hook or unit whose labops is gone and the old worker consuming under our name.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dcSetup, defaultDcPaths, hookWrapper, unitFile, type DcSetupPorts } from '../../src/ops/dc-setup.js';
import { dcCheck } from '../../src/ops/dc-check.js';

function ports(labopsCommand: string[], existing: string[]) {
  const written = new Map<string, string>();
  const p: DcSetupPorts = {
    isRoot: () => true,
    exists: (path) => existing.includes(path) || written.has(path),
    readFile: (path) => written.get(path),
    writeFile: (path, text) => void written.set(path, text),
    remove: (path) => written.delete(path),
    mode: () => undefined,
    which: (cmd) => `/usr/bin/${cmd}`,
    checkRedis: async () => 'Redis answers',
    checkApi: async () => 'API healthy',
    labopsCommand,
  };
  return { p, written };
}
const answers = { linboIp: '10.0.0.13', apiKey: 'k', school: 'default-school', domain: 'linuxmuster.lan', redisPort: 6379, apiPort: 3000 };

test('the hook and the unit run the labops that wrote them, by absolute path', async () => {
  const { p, written } = ports(['/usr/bin/labops'], ['/usr/bin/labops']);
  const r = await dcSetup(answers, defaultDcPaths('/r'), p, { enable: false });
  assert.match(written.get(r.hook)!, /^exec \/usr\/bin\/labops dhcp-patch "\$@"$/m);
  assert.match(written.get(r.unit)!, /^ExecStart=\/usr\/bin\/labops dc jobs$/m);
  // an npm install: Node and the CLI script
  assert.match(hookWrapper(['/opt/node/bin/node', '/opt/labops/bin/labops.js']), /^exec \/opt\/node\/bin\/node \/opt\/labops\/bin\/labops\.js dhcp-patch "\$@"$/m);
  assert.match(unitFile(['/opt/node/bin/node', '/opt/labops/bin/labops.js'], '/etc/macct-worker.conf'), /^ExecStart=\/opt\/node\/bin\/node \/opt\/labops\/bin\/labops\.js dc jobs$/m);
});

test('a labops path that does not exist, is relative or needs quoting: refused, nothing written', async () => {
  for (const [cmd, message] of [
    [['/usr/local/bin/labops'], /labops runs as \/usr\/local\/bin\/labops, but \/usr\/local\/bin\/labops does not exist; nothing written/],
    [['/usr/bin/node', '/gone/bin/labops.js'], /but \/gone\/bin\/labops\.js does not exist; nothing written/],
    [['labops'], /labops runs as 'labops', which a hook or systemd unit cannot name safely/],
    [['/opt/lab ops/labops'], /'\/opt\/lab ops\/labops', which a hook or systemd unit cannot name safely/],
    [['/opt/50%/labops'], /cannot name safely/],
  ] as const) {
    const { p, written } = ports([...cmd], ['/usr/bin/node', '/opt/lab ops/labops', '/opt/50%/labops', 'labops']);
    await assert.rejects(dcSetup(answers, defaultDcPaths('/r'), p, { enable: false }), (e: Error & { kind?: string }) => {
      assert.match(e.message, message);
      assert.equal(e.kind, 'failed');
      return true;
    });
    assert.equal(written.size, 0, `${cmd.join(' ')}: nothing written`);
  }
});

test('the example hook wrapper is what dc setup writes for the Debian package', () => {
  const example = readFileSync(new URL('../../examples/50-linbo-docker-dhcp', import.meta.url), 'utf8');
  const exec = (text: string) => text.split('\n').filter((l) => l.startsWith('exec '));
  assert.deepEqual(exec(example), exec(hookWrapper(['/usr/bin/labops'])));
  assert.deepEqual(exec(example), ['exec /usr/bin/labops dhcp-patch "$@"']);
});

describe('dc setup: refused credentials are an authentication failure', () => {
  test('an API key the LINBO API refuses (401): AuthFailed (exit 4), nothing written; an unreachable Redis: Unreachable (3)', async () => {
    const { AuthFailed, Unreachable } = await import('../../src/domain/errors.js');
    const refused = ports(['/usr/bin/labops'], ['/usr/bin/labops']);
    refused.p.checkApi = async () => {
      throw new AuthFailed('LINBO API GET /internal/operations/x: 401 Invalid or missing internal API key');
    };
    await assert.rejects(dcSetup(answers, defaultDcPaths('/r'), refused.p, { enable: false }), (e: Error & { kind?: string }) => e.kind === 'auth' && /api: LINBO API .*401.*; nothing written/.test(e.message));
    assert.equal(refused.written.size, 0);
    const down = ports(['/usr/bin/labops'], ['/usr/bin/labops']);
    down.p.checkRedis = async () => {
      throw new Unreachable('Redis at 10.0.0.13:6379 (check): connection refused');
    };
    await assert.rejects(dcSetup(answers, defaultDcPaths('/r'), down.p, { enable: false }), (e: Error & { kind?: string }) => e.kind === 'unreachable');
    assert.equal(down.written.size, 0);
  });
});

describe('dc check: the hook, the unit and the old worker', () => {
  const paths = defaultDcPaths('/r');
  const cfg = { redisHost: 'h', redisPort: 6379, apiUrl: 'http://h:3000/api/v1', apiKey: 'k', master: '/r/m.csv', importScript: '/r/imp', samLdb: '/r/sam.ldb', consumerName: 'dc-01' };
  /** A DC tree in memory: path -> [mode, text]. */
  function tree(files: Record<string, [number, string?]>, extra: Partial<DcSetupPorts> = {}): DcSetupPorts {
    return {
      ...ports([], []).p,
      exists: (p) => p in files,
      readFile: (p) => files[p]?.[1],
      mode: (p) => files[p]?.[0],
      ...extra,
    };
  }
  const hook = `${paths.hookDir}/50-linbo-docker-dhcp`;
  const unit = `${paths.systemdDir}/labops-dc-jobs.service`;
  const installed = (hookCmd: string, execStart: string): Record<string, [number, string?]> => ({
    [hook]: [0o100755, hookWrapper(['/x']).replace(/^exec .*$/m, `exec ${hookCmd} dhcp-patch "$@"`)],
    [unit]: [0o100644, unitFile(['/x'], paths.workerConf).replace(/^ExecStart=.*$/m, `ExecStart=${execStart}`)],
    '/usr/bin/labops': [0o100755],
    '/usr/local/bin/labops': [0o100755],
    '/usr/bin/node': [0o100755],
    '/opt/labops/bin/labops.js': [0o100644],
  });
  const byName = (checks: { name: string; status: string; detail: string }[], name: string) => checks.find((c) => c.name === name)!;

  test('a hook and a unit whose labops exists: ok; a bare labops is looked up on cron PATH (/usr/bin:/bin)', async () => {
    const ok = await dcCheck(cfg, paths, tree(installed('/usr/bin/labops', '/usr/bin/node /opt/labops/bin/labops.js dc jobs')));
    assert.equal(byName(ok, 'hook').status, 'ok');
    assert.equal(byName(ok, 'systemd unit').status, 'ok');
    assert.equal(byName(ok, 'macct-worker.service').status, 'ok');
    const bare = await dcCheck(cfg, paths, tree(installed('labops', '/usr/bin/labops dc jobs')));
    assert.equal(byName(bare, 'hook').status, 'ok', byName(bare, 'hook').detail);
  });

  test("a hook whose labops is gone or only on a login shell's PATH, a unit whose ExecStart binary is gone: fail", async () => {
    const gone = await dcCheck(cfg, paths, tree(installed('/opt/old/labops', '/opt/old/labops dc jobs')));
    assert.equal(byName(gone, 'hook').status, 'fail');
    assert.match(byName(gone, 'hook').detail, /runs labops as \/opt\/old\/labops, but \/opt\/old\/labops does not exist: every device import would fail/);
    assert.equal(byName(gone, 'systemd unit').status, 'fail');
    assert.match(byName(gone, 'systemd unit').detail, /starts \/opt\/old\/labops, but \/opt\/old\/labops does not exist/);
    const files = installed('labops', '/usr/bin/node /gone/labops.js dc jobs');
    delete files['/usr/bin/labops'];
    const local = await dcCheck(cfg, paths, tree(files));
    assert.match(byName(local, 'hook').detail, /'labops' is not found on \/usr\/bin:\/bin/);
    assert.match(byName(local, 'systemd unit').detail, /\/gone\/labops\.js does not exist/);
    const oldHook = await dcCheck(cfg, paths, tree({ ...installed('/usr/bin/labops', '/usr/bin/labops dc jobs'), [hook]: [0o100755, '#!/bin/bash\nsource /etc/linbo-docker-dhcp.conf\n'] }));
    assert.equal(byName(oldHook, 'hook').status, 'warn');
  });

  test('macct-worker.service installed or running under the same consumer name: fail; under another name: warn', async () => {
    const worker = '/r/lib/systemd/system/macct-worker.service';
    const base = installed('/usr/bin/labops', '/usr/bin/labops dc jobs');
    const same = await dcCheck(cfg, paths, tree({ ...base, [worker]: [0o100644, '[Service]\nExecStart=/usr/bin/python3 /usr/lib/linbo-docker-dc-worker/macct-worker.py\n'], [paths.workerConf]: [0o100600, 'CONSUMER_NAME=dc-01\n'] }));
    assert.equal(byName(same, 'macct-worker.service').status, 'fail');
    assert.match(byName(same, 'macct-worker.service').detail, /installed \(\/r\/lib\/systemd\/system\/macct-worker\.service\) and consumes linbo:jobs in group dc-workers as 'dc-01', the consumer name labops dc jobs uses/);
    const other = await dcCheck(cfg, paths, tree({ ...base, [worker]: [0o100644, '[Service]\nExecStart=/usr/bin/python3 /w/macct-worker.py -c /etc/w2.conf\n'], '/etc/w2.conf': [0o100600, 'CONSUMER_NAME=dc-old\n'] }));
    assert.equal(byName(other, 'macct-worker.service').status, 'warn');
    // removed from disk but still running, under the host name (its default): fail
    const running = await dcCheck(cfg, paths, tree(base, { unitState: async () => ({ active: 'active', enabled: 'disabled' }), hostname: () => 'dc-01' }));
    assert.equal(byName(running, 'macct-worker.service').status, 'fail');
    assert.match(byName(running, 'macct-worker.service').detail, /is running and consumes/);
  });
});
