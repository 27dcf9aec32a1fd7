// dc setup's hook wrapper and unit name the labops that runs them by absolute path, and a path that does not
// exist or cannot be written safely into sh and systemd is refused before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dcSetup, defaultDcPaths, hookWrapper, unitFile, type DcSetupPorts } from '../../src/ops/dc-setup.js';

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
