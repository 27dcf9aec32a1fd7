// The facts the daemon's loop plan is made from (src/ops/daemon/plan.ts): what the configuration leaves out and
// which tables the database has. `labops daemon`, `labops doctor` and `labops db migrate` all ask here, so they
// agree on what would run.
import type { AppContext } from '../context.js';
import type { Database } from '../../core/db/database.js';
import type { LoopName } from '../../domain/daemon-loops.js';
import type { PlannedLoop } from '../../ops/daemon/plan.js';
import { daemonSettings, settingWhere } from '../settings.js';
import { cmlServers } from '../labs.js';

/** Why each loop whose configuration is absent does not start. */
export async function unconfiguredLoops(ctx: AppContext): Promise<Partial<Record<LoopName, string>>> {
  const [cfg, index, { existsSync }] = await Promise.all([ctx.config(), ctx.inventory(), import('node:fs')]);
  const s = daemonSettings(cfg);
  const out: Partial<Record<LoopName, string>> = {};
  const hosts = index.hosts.filter((h) => !h.quarantined);
  const inventory = index.inventory.file ?? 'no inventory file';
  if (!s.pollEnabled) out.heartbeat = `${settingWhere(cfg, 'heartbeat.poll-enabled')} is off`;
  else if (!hosts.length) out.heartbeat = `the inventory has no hosts (${inventory})`;
  if (!s.automation) out.reservations = `${settingWhere(cfg, 'reservations.automation')} is off`;
  else if (!hosts.some((h) => h.labs.length)) out.reservations = `no inventory host has labs to map reservations to (${inventory})`;
  if ((await cmlServers(ctx)).length === 0) out.labs = 'no cml.servers in the config';
  const workerConf = ctx.env.MACCT_WORKER_CONF ?? '/etc/macct-worker.conf';
  if (!existsSync(workerConf)) out['dc-jobs'] = `no worker config at ${workerConf}`;
  return out;
}

export interface PlanInput {
  only?: readonly LoopName[];
  /** the database to look at; undefined with `noDatabase` saying why */
  db?: Database;
  noDatabase?: string;
}

export async function loopPlan(ctx: AppContext, o: PlanInput, unconfigured?: Partial<Record<LoopName, string>>): Promise<PlannedLoop[]> {
  const [{ planLoops }, { existingTables }] = await Promise.all([import('../../ops/daemon/plan.js'), import('../../core/db/migrations.js')]);
  const tables = o.db ? await existingTables(o.db.kysely, o.db.dialect) : undefined;
  return planLoops({ only: o.only, unconfigured: unconfigured ?? (await unconfiguredLoops(ctx)), tables, noDatabase: o.noDatabase });
}
