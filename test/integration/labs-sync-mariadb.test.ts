// labs sync against simulated CML controllers over TLS, stored in a real MariaDB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import type { CmlControllers } from '../../src/sim/cml/index.js';
import { startSimLab, type SimLab } from '../support/sim-lab.js';
import { run, RunSignals } from '../../src/cli/main.js';
import { waitFor } from '../support/services.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { tempDir } from '../support/tmp.js';

interface Line { type: string; [k: string]: unknown }

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const io = IOStreams.test();
  const code = await run(args, { io, env: { HOME: '/nonexistent', ...env } });
  const stdout = io.outText();
  return { code, stdout, stderr: io.errText(), lines: () => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) };
}

describe('labs sync on MariaDB', () => {
  const dir = tempDir('labops-cml-maria-');
  let maria: MariaDb | undefined;
  let labSim: SimLab;
  let sim: CmlControllers;
  let url: string;
  const base = () => ['--config', sim.configPath, '--db', url];
  before(async (t) => {
    maria = await startMariaDb(t as never);
    labSim = await startSimLab({ stateDir: dir.path, cml: 2, cmlLabs: 5, cmlChange: 'off' });
    sim = labSim.cml!;
    if (maria) url = maria.createDatabase('cml');
  });
  after(async () => {
    await labSim?.close();
    await maria?.stop();
    dir.cleanup();
  });

  test('before db migrate, sync says what to do (exit 2)', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const r = await cli([...base(), 'labs', 'sync']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /tables cml_lab_records, cml_lab_history do not exist/);
    assert.match(r.stderr, /labops db migrate/);
  });

  test('db migrate creates the CML tables with their keys', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const r = await cli(['--db', url, 'db', 'migrate']);
    assert.equal(r.code, 0, r.stderr);
    const rec = maria.sql('SHOW CREATE TABLE cml.cml_lab_records');
    assert.match(rec, /PRIMARY KEY \(`server_id`,`lab_id`\)/);
    assert.match(rec, /UNIQUE KEY `uk_cml_lab_records_record_id`/);
    assert.match(rec, /`notes` mediumtext NOT NULL/);
    const hist = maria.sql('SHOW CREATE TABLE cml.cml_lab_history');
    assert.match(hist, /FOREIGN KEY \(`server_id`, `lab_id`\) REFERENCES `cml_lab_records` \(`server_id`, `lab_id`\) ON DELETE CASCADE/);
  });

  test('sync, no-change re-sync, change with history, orphan, purge', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const first = await cli([...base(), '--json', 'labs', 'sync']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.lines().at(-1)!.created, 10);
    assert.equal(maria.sql('SELECT COUNT(*) FROM cml.cml_lab_records').trim(), '10');

    const again = await cli([...base(), '--json', 'labs', 'sync']);
    for (const s of again.lines().filter((l) => l.type === 'server')) {
      assert.equal(s.unchanged, 5);
      assert.equal(s.statements, 1);
    }
    assert.equal(maria.sql('SELECT COUNT(*) FROM cml.cml_lab_history').trim(), '0');

    const c = sim.controllers[0]!;
    const [a, b] = [...c.labs.values()];
    c.updateLab(a!.id, { state: a!.state === 'STARTED' ? 'STOPPED' : 'STARTED' });
    c.deleteLab(b!.id);
    const changed = await cli([...base(), '--json', 'labs', 'sync']);
    assert.equal(changed.code, 0, changed.stderr + changed.stdout);
    assert.deepEqual(changed.lines().filter((l) => l.type === 'lab').map((l) => l.event).sort(), ['orphaned', 'state_changed']);
    assert.equal(maria.sql(`SELECT new_state FROM cml.cml_lab_history WHERE lab_id = '${a!.id}'`).trim(), a!.state);
    assert.notEqual(maria.sql(`SELECT orphaned_at FROM cml.cml_lab_records WHERE lab_id = '${b!.id}'`).trim(), 'NULL');
    // Times are stored in UTC with milliseconds.
    assert.match(maria.sql(`SELECT last_synced_at FROM cml.cml_lab_records WHERE lab_id = '${a!.id}'`).trim(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);

    const docs = JSON.parse((await cli([...base(), 'labs', 'list', '--format', 'lab-record', '--server', c.id])).stdout) as { lab_id: string; operation_history: unknown[] }[];
    assert.equal(docs.find((d) => d.lab_id === a!.id)!.operation_history.length, 1);

    const purge = await cli([...base(), 'labs', 'sync', '--purge', '--server', c.id]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.equal(maria.sql(`SELECT COUNT(*) FROM cml.cml_lab_records WHERE lab_id = '${b!.id}'`).trim(), '0');
    assert.equal(maria.sql('SELECT COUNT(*) FROM cml.cml_lab_records').trim(), '9');
  });

  test('a failed or empty lab list keeps every record', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const c = sim.controllers[1]!;
    await labSim.patch({ fault: [`cml.list:empty@times=1,server=${c.id}`] });
    const r = await cli([...base(), 'labs', 'sync', '--server', c.id]);
    assert.equal(r.code, 5, 'synced, but a suspiciously empty list is partial so cron notices');
    assert.match(r.stderr, /empty lab list while 5 lab\(s\) are stored/);
    await labSim.patch({ fault: [`cml.list:404@times=1,server=${c.id}`] });
    const r2 = await cli([...base(), 'labs', 'sync', '--server', c.id]);
    assert.equal(r2.code, 1, r2.stderr);
    assert.equal(maria.sql(`SELECT COUNT(*) FROM cml.cml_lab_records WHERE server_id = '${c.id}' AND orphaned_at IS NULL`).trim(), '5');
  });

  test('a token expiring mid-run is renewed once; wrong credentials exit 4', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const c = sim.controllers[1]!;
    const lab = [...c.labs.values()][0]!;
    c.updateLab(lab.id, { lab_title: 'after re-auth' });
    await labSim.patch({ fault: [`cml.detail:expire-token@times=1,lab=${lab.id}`] });
    const loginsBefore = c.stats.logins;
    const r = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(c.stats.logins - loginsBefore, 2, 'one login, one re-login');
    assert.equal(r.lines().find((l) => l.type === 'server')!.synced, 5);
    assert.equal(maria.sql(`SELECT title FROM cml.cml_lab_records WHERE lab_id = '${lab.id}'`).trim(), 'after re-auth');
    const cfgPath = join(dir.path, 'wrong.json');
    writeFileSync(cfgPath, JSON.stringify({ cml: { servers: [{ ...sim.servers[1]!, password: 'env:PW' }] } }));
    const bad = await cli(['--config', cfgPath, '--db', url, 'labs', 'sync'], { PW: 'nope' });
    assert.equal(bad.code, 4, bad.stderr);
    assert.equal(maria.sql(`SELECT title FROM cml.cml_lab_records WHERE lab_id = '${lab.id}'`).trim(), 'after re-auth');
  });
  test('malformed lab details that upstream keeps are kept: repaired fields, warnings, exit 0 (item 6)', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const c = sim.controllers[0]!;
    // One defect per lab, each one a body CML Cloud Manager still caches (it skips a lab only without a detail).
    const corpus: [string, Record<string, unknown>][] = [
      ['created not a date', { created: 'not a date' }],
      ['modified Feb 30', { modified: '2025-02-30T10:00:00' }],
      ['created a number', { created: 1_700_000_000 }],
      ['no lab_title', { lab_title: undefined }],
      ['lab_title null', { lab_title: null }],
      ['node_count "7"', { node_count: '7' }],
      ['link_count "12"', { link_count: '12' }],
      ['node_count "seven"', { node_count: 'seven' }],
      ['no state', { state: undefined }],
      ['description a number', { lab_description: 42 }],
      ['groups a string', { groups: 'students' }],
      ['owner_username a number', { owner_username: 7 }],
      ['effective_permissions a string', { effective_permissions: 'lab_admin' }],
      ['no id in the body', { id: undefined }],
    ];
    const labs = corpus.map(([, patch]) => {
      const lab = c.addLab();
      c.detailPatches.set(lab.id, patch);
      return lab;
    });
    const r = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    for (const lab of labs) c.detailPatches.delete(lab.id);
    const kept = labs.filter((l) => maria!.sql(`SELECT COUNT(*) FROM cml.cml_lab_records WHERE lab_id = '${l.id}'`).trim() === '1').length;
    assert.equal(kept, corpus.length, `kept ${kept} of ${corpus.length} malformed labs\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    const server = r.lines().find((l) => l.type === 'server')!;
    assert.deepEqual(server.labErrors, []);
    const col = (i: number, column: string) => maria!.sql(`SELECT ${column} FROM cml.cml_lab_records WHERE lab_id = '${labs[i]!.id}'`).trim();
    assert.equal(col(0, 'cml_created_at'), 'NULL');
    assert.equal(col(1, 'modified_at'), 'NULL');
    assert.equal(col(2, 'cml_created_at'), 'NULL');
    assert.equal(col(0, 'title'), labs[0]!.lab_title, 'the rest of a lab with a bad date is stored as sent');
    assert.equal(col(3, 'title'), 'Untitled Lab');
    assert.equal(col(4, 'title'), 'Untitled Lab');
    assert.equal(col(5, 'node_count'), '7');
    assert.equal(col(6, 'link_count'), '12');
    assert.equal(col(8, 'state'), 'UNKNOWN');
    // Every repair is a warning naming the lab and the field.
    const warnings = (server.warnings as string[]).join('\n');
    assert.match(warnings, new RegExp(`lab ${labs[0]!.id}: created: expected an ISO-8601 date-time, got "not a date"; stored as null`));
    assert.match(warnings, new RegExp(`lab ${labs[3]!.id}: lab_title: expected a string, got nothing; stored as "Untitled Lab"`));
    assert.match(warnings, new RegExp(`lab ${labs[7]!.id}: node_count: expected a whole number ≥ 0, got "seven"`));
    // Fixed upstream, the same labs sync cleanly with their real values.
    const clean = await cli([...base(), '--json', 'labs', 'sync', '--server', c.id]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(col(3, 'title'), labs[3]!.lab_title);
    assert.equal(col(7, 'node_count'), String(labs[7]!.node_count));
  });
  test('the daemon deletes records orphaned longer than cml.orphan-retention (default 7 days) with their history (item 7)', async (t) => {
    if (!maria) return t.skip('no MariaDB');
    const c = sim.controllers[1]!;
    const [old, recent, kept] = [...c.labs.values()];
    c.updateLab(old!.id, { state: old!.state === 'STARTED' ? 'STOPPED' : 'STARTED' }); // a history row to go with it
    assert.equal((await cli([...base(), 'labs', 'sync', '--server', c.id])).code, 0);
    c.deleteLab(old!.id);
    c.deleteLab(recent!.id);
    assert.equal((await cli([...base(), 'labs', 'sync', '--server', c.id])).code, 0);
    const orphanedDaysAgo = (labId: string, days: number) => maria!.sql(`UPDATE cml.cml_lab_records SET orphaned_at = UTC_TIMESTAMP(3) - INTERVAL ${days} DAY WHERE lab_id = '${labId}'`);
    orphanedDaysAgo(old!.id, 8);
    orphanedDaysAgo(recent!.id, 6);
    const count = (table: string, labId: string) => maria!.sql(`SELECT COUNT(*) FROM cml.${table} WHERE lab_id = '${labId}'`).trim();
    assert.notEqual(count('cml_lab_history', old!.id), '0');

    const daemon = async (env: NodeJS.ProcessEnv, until: () => boolean, what: string) => {
      const signals = new RunSignals();
      const io = IOStreams.test();
      const running = run([...base(), 'daemon', '--only', 'labs'], { io, env: { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path, ...env }, signals });
      try {
        await waitFor(async () => until(), what, 30_000, 100);
      } finally {
        signals.receive('SIGINT');
      }
      assert.equal(await running, 130, io.errText());
    };
    await daemon({}, () => count('cml_lab_records', old!.id) === '0', 'the labs loop to purge the 8-day-old orphan');
    assert.equal(count('cml_lab_history', old!.id), '0');
    assert.equal(count('cml_lab_records', recent!.id), '1', 'orphaned 6 days ago: within the default retention');
    assert.equal(count('cml_lab_records', kept!.id), '1');
    // The retention is a setting (here through its environment variable).
    await daemon({ LABOPS_CML_ORPHAN_RETENTION: '120h' }, () => count('cml_lab_records', recent!.id) === '0', 'a 5-day retention to purge the 6-day-old orphan');
    assert.equal(count('cml_lab_records', kept!.id), '1');
  });
});
