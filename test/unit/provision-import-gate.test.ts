// The device import starts only after the lock records it: a consumer killed between spawning the import and
// rewriting its lock would otherwise leave an import running that no lock knows of (a second one could start).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { systemProvisionPorts } from '../../src/ops/provision-hosts.js';

const dir = tempDir('labops-import-gate-');
after(() => dir.cleanup());

const ports = () => systemProvisionPorts({ env: { PATH: process.env.PATH }, confirm: async () => true, lockWaitMs: 0, lockOwner: 'labops test', sleep: async () => {} });

function script(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

/** blocks this thread (the callback runs synchronously, as the lock rewrite does) */
function busyWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('provision hosts: starting the device import', () => {
  test('the import does not run before onStart has recorded its pid, then runs in a process group of its own with its arguments', async () => {
    const ran = join(dir.path, 'ran');
    const imp = script('import-devices', `echo "$$ $(ps -o pgid= -p $$ | tr -d ' ') $*" > '${ran}'`);
    let recorded = 0;
    let ranBeforeRecord = true;
    const r = await (await ports()).runImport(imp, ['-s', 'default-school'], 10_000, (pid) => {
      busyWait(300); // a slow lock rewrite: an ungated script has written its file by now
      ranBeforeRecord = existsSync(ran);
      recorded = pid;
    });
    assert.equal(r.code, 0, r.output);
    assert.equal(ranBeforeRecord, false, 'the import ran before its pid was recorded');
    const [pid, pgid, ...args] = (await import('node:fs')).readFileSync(ran, 'utf8').trim().split(' ');
    assert.equal(Number(pid), recorded, 'the recorded pid is the import (exec, no wrapper left)');
    assert.equal(Number(pgid), recorded, 'it leads its own process group');
    assert.deepEqual(args, ['-s', 'default-school']);
  });

  test('a missing script is named as such; an import that exits 127 itself is an exit code', async () => {
    const p = await ports();
    const missing = join(dir.path, 'no-such-import');
    const r = await p.runImport(missing, ['-s', 'x'], 10_000, () => undefined);
    assert.equal(r.error, `script not found: ${missing}`);
    const own = await p.runImport(script('exits-127', 'echo broken >&2; exit 127'), [], 10_000, () => undefined);
    assert.equal(own.code, 127);
    assert.equal(own.error, undefined);
    assert.match(own.output, /broken/);
  });
});
