// labops macct-repair: the DC worker config (flags over the file) and the real sam.ldb tools.
import type { AppContext } from './context.js';
import type { MacctRepairResult } from '../ops/macct-repair.js';
import { UsageError } from '../domain/errors.js';

export interface MacctRepairOptions {
  hosts: string[];
  school?: string;
  workerConf?: string;
  samLdb?: string;
  macctFile?: string;
  devicesCsv?: string;
  linboDir?: string;
  imageDir?: string;
  script?: boolean;
  native?: boolean;
}

export async function repairMachineAccounts(ctx: AppContext, o: MacctRepairOptions): Promise<MacctRepairResult[]> {
  if (o.script && o.native) throw new UsageError('--script and --native exclude each other');
  for (const h of o.hosts) if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(h)) throw new UsageError(`invalid host name '${h}'`);
  const [{ loadMacctWorkerConfig, MACCT_WORKER_CONF }, { macctRepairConfig, repairMacct, systemMacctPorts }] = await Promise.all([
    import('../core/config/macct-worker-conf.js'),
    import('../ops/macct-repair.js'),
  ]);
  const wc = loadMacctWorkerConfig(o.workerConf ?? ctx.env.MACCT_WORKER_CONF ?? MACCT_WORKER_CONF, ctx.env, {
    school: o.school,
    sam_ldb: o.samLdb,
    devices_csv_master: o.devicesCsv,
    linbo_dir: o.linboDir,
    image_dir: o.imageDir,
  });
  const cfg = { ...macctRepairConfig(wc, o.script ? 'script' : o.native ? 'native' : undefined), macctFile: o.macctFile };
  const ports = await systemMacctPorts(ctx.env);
  const results: MacctRepairResult[] = [];
  for (const host of o.hosts) results.push(await repairMacct(host, cfg, ports));
  return results;
}
