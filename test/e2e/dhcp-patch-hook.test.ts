// `labops dhcp-patch` through the binary: bin/labops.js gives that command its own one-module bundle
// (dist/cli/hook.js, see scripts/build.mjs). These hold it to the main bundle: same files, log, output, errors.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.js';
import { dcTree, fixture, type DcTree } from '../support/dc-tree.js';

const HOOK = fileURLToPath(new URL('../../dist/cli/hook.js', import.meta.url));
const SAMPLE = fixture('dhcp-devices.default-school.conf.sample');
const PATCHED = fixture('dhcp-devices.default-school.patched.conf.sample');
const stripTs = (s: string) => s.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /gm, '');
const trees: DcTree[] = [];
const tree = () => {
  const t = dcTree({ included: false });
  trees.push(t);
  return t;
};
after(() => trees.forEach((t) => t.cleanup()));

/** The hook bundle (`labops dhcp-patch …`) and the main bundle (a global option first: `labops -v dhcp-patch …`). */
const viaHook = (t: DcTree, ...args: string[]) => runCli(['dhcp-patch', '--conf', t.conf, ...args]);
const viaMain = (t: DcTree, ...args: string[]) => runCli(['-v', 'dhcp-patch', '--conf', t.conf, ...args]);

describe('dhcp-patch through bin/labops.js', () => {
  test('the hook bundle is one module: it imports nothing but Node built-ins', () => {
    const imports = [...readFileSync(HOOK, 'utf8').matchAll(/^import\b[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    assert.ok(imports.length > 0);
    assert.deepEqual(imports.filter((p) => !p.startsWith('node:')), []);
  });

  test('patch, log, tee and the second run are the same from both bundles', async () => {
    for (const run of [viaHook, viaMain]) {
      const t = tree();
      const first = await run(t);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(readFileSync(t.devicesFile, 'utf8'), PATCHED);
      assert.equal(stripTs(first.stdout), stripTs(readFileSync(t.log, 'utf8')));
      assert.match(first.stdout, /\[PATCH\] Inserted next-server for pc01: 10\.0\.0\.13\n/);
      const second = await run(t);
      assert.equal(second.code, 0);
      assert.match(second.stdout, /Done: 0 patched, 2 skipped, 0 errors \(2 total\)\n$/);
    }
  });

  test('--json and --dry-run: the same documents and plan from both bundles', async () => {
    const [a, b] = [tree(), tree()];
    const [ja, jb] = [await viaHook(a, '--json', '--dry-run'), await viaMain(b, '--json', '--dry-run')];
    assert.equal(ja.code, 0, ja.stderr);
    // the two runs may straddle a second: log time stamps aside
    const doc = (s: string, t: DcTree) => JSON.parse(s.replaceAll(t.root, '<root>').replace(/\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /g, '')) as Record<string, unknown>;
    assert.deepEqual(doc(ja.stdout, a), doc(jb.stdout, b));
    assert.equal((doc(ja.stdout, a).hosts as unknown[]).length, 2);
    // the plan table (cli-table3, loaded only for it) renders in the hook bundle too
    const [pa, pb] = [await viaHook(a, '--dry-run'), await viaMain(b, '--dry-run')];
    assert.equal(pa.code, 0, pa.stderr);
    assert.match(pa.stdout, /pc01\s+insert\s+\d+/);
    assert.equal(pa.stdout, pb.stdout);
    assert.equal(pa.stderr.replaceAll(a.root, '<root>'), pb.stderr.replaceAll(b.root, '<root>'));
    assert.equal(readFileSync(a.devicesFile, 'utf8'), SAMPLE, 'a dry run writes nothing');
  });

  test('--help, a usage error and bad input: same text and exit codes from both bundles', async () => {
    const t = tree();
    const help = await runCli(['dhcp-patch', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: labops dhcp-patch \[options\]/);
    assert.equal(help.stdout, (await runCli(['-v', 'dhcp-patch', '--help'])).stdout);
    const bogus = await viaHook(t, '--bogus');
    assert.equal(bogus.code, 2);
    assert.equal(bogus.stderr, (await viaMain(t, '--bogus')).stderr);
    t.write(t.devicesFile, 'host pc01 {\n  hardware ethernet AA:BB:CC:DD:EE:FF;\n');
    const broken = await viaHook(t);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^labops: .*default-school\.conf: .*never closed.*; nothing changed\n$/);
    assert.equal(readFileSync(t.devicesFile, 'utf8'), 'host pc01 {\n  hardware ethernet AA:BB:CC:DD:EE:FF;\n');
  });
});
