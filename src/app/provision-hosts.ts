// labops provision hosts: the DC worker config (flags over the file over the environment) and the real ports
// (devices.csv files, lock, import script, ldbsearch, DNS) behind one host's create, update or delete.
import type { AppContext } from './context.js';
import type { ProvisionHostRequest, ProvisionHostResult, ProvisionPlan } from '../ops/provision-hosts.js';

export interface ProvisionHostsPaths {
  school?: string;
  workerConf?: string;
  master?: string;
  delta?: string;
  importScript?: string;
  samLdb?: string;
  dhcpVerifyFile?: string;
  domain?: string;
  dnsServer?: string;
  /** ms to wait for a lock another run holds */
  lockWait?: number;
  importTimeout?: number;
}

export interface ProvisionHostsIo {
  progress(message: string): void;
  /** asked before anything is written (not for dry runs) */
  confirm(plan: ProvisionPlan): Promise<boolean>;
}

export async function provisionOneHost(ctx: AppContext, req: ProvisionHostRequest, o: ProvisionHostsPaths, io: ProvisionHostsIo): Promise<ProvisionHostResult & { lockFile: string }> {
  const [{ loadMacctWorkerConfig }, { provisionHost, provisionHostConfig, systemProvisionPorts }] = await Promise.all([import('../core/config/macct-worker-conf.js'), import('../ops/provision-hosts.js')]);
  const wc = loadMacctWorkerConfig(o.workerConf ?? ctx.env.MACCT_WORKER_CONF ?? '/etc/macct-worker.conf', ctx.env, {
    school: o.school,
    devices_csv_master: o.master,
    devices_csv_delta: o.delta,
    import_script: o.importScript,
    sam_ldb: o.samLdb,
    dhcp_verify_file: o.dhcpVerifyFile,
    linbo_domain: o.domain,
  });
  // DNS is checked when a domain was chosen (LINBO_DOMAIN=auto: Samba's realm), or a DNS server given.
  const { cfg } = await provisionHostConfig(wc, { importTimeoutMs: o.importTimeout ?? 600_000, checkDns: Boolean(o.dnsServer), env: ctx.env });
  const ports = await systemProvisionPorts({
    env: ctx.env,
    lockWaitMs: o.lockWait ?? 0,
    lockOwner: `labops provision hosts ${req.action} ${req.hostname}`,
    dnsServer: o.dnsServer,
    sleep: (ms) => ctx.clock.sleep(ms, ctx.signal),
    progress: io.progress,
    confirm: io.confirm,
  });
  return { ...(await provisionHost(req, cfg, ports)), lockFile: cfg.lockFile };
}
