// The devices.csv + delta pair as one transactional file set (src/core/fs/file-set.ts): backups, then a journal,
// then each file; a failed write rolls back at once, and a journal a killed run left is rolled back by the next.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { journalPath, recoverFileSet, replaceFileSet } from '../../src/core/fs/file-set.js';
import { OperationFailed } from '../../src/domain/errors.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-fileset-');
after(() => dir.cleanup());
let n = 0;

/** A fresh school directory with the old pair (the delta optional). */
function school(delta: string | null = 'delta-old\n'): { dir: string; master: string; delta: string } {
  const d = join(dir.path, `s${n++}`);
  mkdirSync(d);
  const t = { dir: d, master: join(d, 'devices.csv'), delta: join(d, 'linbo-docker.devices.csv') };
  writeFileSync(t.master, 'master-old\n');
  if (delta !== null) writeFileSync(t.delta, delta);
  return t;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

describe('file set: devices.csv and its delta change together or not at all', () => {
  test('both files replaced, one backup generation each, no journal or temp file left', () => {
    const t = school();
    const backups = replaceFileSet([{ path: t.master, data: 'master-new\n' }, { path: t.delta, data: 'delta-new\n' }], 'a test change');
    assert.deepEqual(backups, [`${t.master}.bak`, `${t.delta}.bak`]);
    assert.equal(readFileSync(t.master, 'utf8'), 'master-new\n');
    assert.equal(readFileSync(t.delta, 'utf8'), 'delta-new\n');
    assert.equal(readFileSync(`${t.master}.bak`, 'utf8'), 'master-old\n');
    assert.equal(readFileSync(`${t.delta}.bak`, 'utf8'), 'delta-old\n');
    assert.deepEqual(readdirSync(t.dir).sort(), ['devices.csv', 'devices.csv.bak', 'linbo-docker.devices.csv', 'linbo-docker.devices.csv.bak']);
    assert.equal(recoverFileSet([t.master, t.delta]), undefined);
  });

  test('a write that fails after the first file is in place puts the first one back at once', () => {
    const t = school(null);
    mkdirSync(t.delta); // the delta cannot be written: renaming a file over a directory fails
    assert.throws(() => replaceFileSet([{ path: t.master, data: 'master-new\n' }, { path: t.delta, data: 'delta-new\n' }], 'a test change'), OperationFailed);
    assert.equal(readFileSync(t.master, 'utf8'), 'master-old\n');
    assert.ok(!existsSync(journalPath(t.master)));
    assert.deepEqual(readdirSync(t.dir).filter((f) => f.includes('labops')), []);
  });

  test('a journal left by a killed run (master new, delta old) is rolled back: both old, journal and stale temp files gone', () => {
    const t = school();
    // what a kill between the two renames leaves: backups, the journal, the new master, the old delta, temp files
    writeFileSync(`${t.master}.bak`, 'master-old\n');
    writeFileSync(`${t.delta}.bak`, 'delta-old\n');
    const pid = deadPid();
    const journal = { pid, what: 'provision hosts create pcnew', startedAt: '2026-12-03T04:00:00.000Z', files: [
      { path: t.master, backup: `${t.master}.bak`, sha256: sha256('master-old\n') },
      { path: t.delta, backup: `${t.delta}.bak`, sha256: sha256('delta-old\n') },
    ] };
    writeFileSync(journalPath(t.master), JSON.stringify(journal));
    writeFileSync(t.master, 'master-new\n');
    for (const name of ['devices.csv', 'linbo-docker.devices.csv', 'devices.csv.bak', '.devices.csv.labops-journal']) {
      writeFileSync(join(t.dir, `.${name}.labops-tmp-${pid}-0000abcd`), 'partial');
    }
    const said = recoverFileSet([t.master, t.delta]);
    assert.match(said ?? '', new RegExp(`rolled back provision hosts create pcnew that pid ${pid} left unfinished`));
    assert.equal(readFileSync(t.master, 'utf8'), 'master-old\n');
    assert.equal(readFileSync(t.delta, 'utf8'), 'delta-old\n');
    assert.deepEqual(readdirSync(t.dir).sort(), ['devices.csv', 'devices.csv.bak', 'linbo-docker.devices.csv', 'linbo-docker.devices.csv.bak']);
    assert.equal(recoverFileSet([t.master, t.delta]), undefined);
  });

  test('a file the set created is removed again by the rollback', () => {
    const t = school(null);
    writeFileSync(`${t.master}.bak`, 'master-old\n');
    writeFileSync(journalPath(t.master), JSON.stringify({ pid: deadPid(), what: 'x', startedAt: 'y', files: [
      { path: t.master, backup: `${t.master}.bak`, sha256: sha256('master-old\n') },
      { path: t.delta },
    ] }));
    writeFileSync(t.master, 'master-new\n');
    writeFileSync(t.delta, 'delta-new\n');
    assert.ok(recoverFileSet([t.master, t.delta]));
    assert.equal(readFileSync(t.master, 'utf8'), 'master-old\n');
    assert.ok(!existsSync(t.delta));
  });

  test('a backup that is not the one the journal recorded stops the rollback: nothing changed, the journal stays', () => {
    const t = school();
    writeFileSync(`${t.master}.bak`, 'someone else wrote this\n');
    writeFileSync(journalPath(t.master), JSON.stringify({ pid: deadPid(), what: 'x', startedAt: 'y', files: [{ path: t.master, backup: `${t.master}.bak`, sha256: sha256('master-old\n') }] }));
    writeFileSync(t.master, 'master-new\n');
    assert.throws(() => recoverFileSet([t.master, t.delta]), (e: unknown) => e instanceof OperationFailed && /cannot be rolled back/.test((e as Error).message));
    assert.equal(readFileSync(t.master, 'utf8'), 'master-new\n');
    assert.ok(existsSync(journalPath(t.master)));
  });

  test('an unreadable journal is a clear error naming what to check', () => {
    const t = school();
    writeFileSync(journalPath(t.master), '{torn');
    assert.throws(() => recoverFileSet([t.master, t.delta]), (e: unknown) => e instanceof OperationFailed && /unreadable journal/.test((e as Error).message));
  });
});
