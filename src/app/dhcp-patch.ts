// labops dhcp-patch, the device-import hook: its KEY=VALUE config (flags over the file) and the real files and
// dhcpd. Kept to this one module and the op: the hook runs on every import, its start-up is the cost.
import type { AppContext } from './context.js';
import type { DhcpPatchResult } from '../ops/dhcp-patch.js';

export interface DhcpPatchOptions {
  conf?: string;
  school?: string;
  nextServer?: string;
  delta?: string;
  devicesDhcp?: string;
  logFile?: string;
  dhcpdConf?: string;
  dhcpd?: string;
  dryRun?: boolean;
}

/** `tee` receives the log lines the hook shows on stdout (import-devices prints them), in one go at the end. */
export async function patchDhcp(ctx: Pick<AppContext, 'env'>, o: DhcpPatchOptions, tee?: (text: string) => void): Promise<DhcpPatchResult> {
  const [{ loadDhcpHookConfig }, { dhcpPatch, systemDhcpPatchPorts }] = await Promise.all([import('../core/config/linbo-docker-dhcp-conf.js'), import('../ops/dhcp-patch.js')]);
  const config = loadDhcpHookConfig(o.conf ?? ctx.env.LINBO_DOCKER_DHCP_CONF ?? '/etc/linbo-docker-dhcp.conf', {
    school: o.school,
    nextServer: o.nextServer,
    delta: o.delta,
    devicesDhcp: o.devicesDhcp,
    logFile: o.logFile,
    dhcpdConf: o.dhcpdConf,
    dhcpd: o.dhcpd,
  });
  return dhcpPatch(config, { dryRun: Boolean(o.dryRun) }, await systemDhcpPatchPorts(tee));
}
