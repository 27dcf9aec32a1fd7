// labs sync against simulated CML controllers over TLS, stored in a real MariaDB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import type { CmlControllers } from '../../src/sim/cml/index.js';
import { startSimLab, type SimLab } from '../support/sim-lab.js';
import { run } from '../../src/cli/main.js';
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
});
