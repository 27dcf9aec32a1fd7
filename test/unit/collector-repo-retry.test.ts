// A claim statement InnoDB picks as a deadlock victim is rolled back and must simply run again, not end the run
// with "unexpected error" (seen beside the old provision worker's SELECT … FOR UPDATE on a real MariaDB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { openDatabase } from '../../src/core/db/database.js';
import { migrate } from '../../src/core/db/migrations.js';
import { CollectorRepo } from '../../src/core/db/repo-collector.js';
import { addLab, addServer, addSession, sessionRow } from '../support/collector.js';

/** Fails the first `times` UPDATEs before they reach the database, as InnoDB reports a deadlock victim. */
class DeadlockVictim implements KyselyPlugin {
  thrown = 0;
  constructor(public times: number) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'UpdateQueryNode' && this.thrown < this.times) {
      this.thrown++;
      throw Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { errno: 1213, code: 'ER_LOCK_DEADLOCK' });
    }
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

test('claim, finish and release survive a deadlock victim; a claim is never lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'labops-repo-retry-'));
  const db = await openDatabase(`sqlite:///${join(dir, 'labops.db')}`);
  try {
    await migrate(db.kysely, db.dialect, { createForeign: true });
    const server = await addServer(db.kysely, { hostname: 'srv1', ssh_user: 'u' });
    const lab = await addLab(db.kysely, { server_id: server, provision_script_path: '/opt/p.sh' });
    const a = await addSession(db.kysely, { lab_id: lab, namespace: 'ns-a' });
    const b = await addSession(db.kysely, { lab_id: lab, namespace: 'ns-b' });
    const victim = new DeadlockVictim(1);
    const repo = new CollectorRepo(db.kysely.withPlugin(victim), db.dialect, 'test:1');
    const now = '2026-11-23 10:00:00';

    assert.equal(await repo.claimProvision(a, now), true);
    assert.equal(victim.thrown, 1, 'the first UPDATE was a deadlock victim');
    assert.equal((await sessionRow(db.kysely, a)).status, 'PROVISIONING');

    victim.times = 2;
    await repo.finishProvision(a, 'ACTIVE');
    assert.deepEqual({ ...(await sessionRow(db.kysely, a)) }, { id: a, status: 'ACTIVE', provisioned: 1 });

    assert.equal(await repo.claimProvision(b, now), true);
    victim.times = 3;
    await repo.releaseProvision(b, now);
    assert.equal((await sessionRow(db.kysely, b)).status, 'REQUESTED');

    // something that is not a deadlock is not retried
    const other = new CollectorRepo(
      db.kysely.withPlugin({
        transformQuery: (args) => {
          if (args.node.kind === 'UpdateQueryNode') throw Object.assign(new Error('Unknown column'), { errno: 1054 });
          return args.node;
        },
        transformResult: async (args) => args.result,
      }),
      db.dialect,
      'test:2',
    );
    await assert.rejects(other.claimProvision(b, now), /Unknown column/);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
