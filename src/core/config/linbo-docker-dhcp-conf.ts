// /etc/linbo-docker-dhcp.conf, the config of the 50-linbo-docker-dhcp hook (NOTES §6.2).
// Fix: the school given with -s wins over SCHOOL= in the file (the hook let the file override it).
// labops also reads DHCPD_CONF and DHCPD, which the old hook ignores.
import { fillSchool, schoolNameProblem, DEFAULT_SCHOOL } from '../../domain/devices-csv/paths.js';
import { UsageError } from '../../domain/errors.js';
import { readKvFile } from './kv-file.js';

export const LINBO_DOCKER_DHCP_CONF = '/etc/linbo-docker-dhcp.conf';

export interface DhcpHookConfig {
  /** the file that was read, or undefined when it does not exist */
  file?: string;
  linboDockerIp?: string;
  school: string;
  deltaCsv: string;
  devicesDhcp: string;
  logFile: string;
  dhcpdConf: string;
  dhcpd?: string;
}

export interface DhcpHookOverrides {
  school?: string;
  nextServer?: string;
  delta?: string;
  devicesDhcp?: string;
  logFile?: string;
  dhcpdConf?: string;
  dhcpd?: string;
}

export const DHCP_HOOK_DEFAULTS = {
  deltaCsv: '/etc/linuxmuster/sophomorix/{school}/linbo-docker.devices.csv',
  devicesDhcp: '/etc/dhcp/devices/{school}.conf',
  logFile: '/var/log/linuxmuster/linbo-docker-dhcp.log',
  dhcpdConf: '/etc/dhcp/dhcpd.conf',
};

/**
 * Flags > file > defaults; `{school}` is filled after the school is known, in every path. A school that is not a
 * plain name (a path, `..`) is refused before any file is named with it.
 */
export function resolveDhcpHookConfig(values: Record<string, string> | undefined, o: DhcpHookOverrides, file?: string): DhcpHookConfig {
  const v = values ?? {};
  const school = o.school || v.SCHOOL || DEFAULT_SCHOOL;
  const problem = schoolNameProblem(school);
  if (problem) throw new UsageError(`${problem}; nothing read or written`, { suggestion: o.school ? 'pass the school name with -s, e.g. -s default-school' : `fix SCHOOL= in ${file}` });
  const path = (flag: string | undefined, key: string, def: string) => fillSchool(flag || v[key] || def, school);
  return {
    file,
    linboDockerIp: o.nextServer || v.LINBO_DOCKER_IP || undefined,
    school,
    deltaCsv: path(o.delta, 'DELTA_CSV', DHCP_HOOK_DEFAULTS.deltaCsv),
    devicesDhcp: path(o.devicesDhcp, 'DEVICES_DHCP', DHCP_HOOK_DEFAULTS.devicesDhcp),
    logFile: path(o.logFile, 'LOGFILE', DHCP_HOOK_DEFAULTS.logFile),
    dhcpdConf: path(o.dhcpdConf, 'DHCPD_CONF', DHCP_HOOK_DEFAULTS.dhcpdConf),
    dhcpd: o.dhcpd || v.DHCPD || undefined,
  };
}

/** Reads the file (missing is fine: `file` is then undefined) and resolves it with the flags. */
export function loadDhcpHookConfig(confPath: string, o: DhcpHookOverrides): DhcpHookConfig {
  const entries = readKvFile(confPath, { shellComments: true });
  if (!entries) return resolveDhcpHookConfig(undefined, o);
  const values: Record<string, string> = {};
  for (const e of entries) values[e.key] = e.value;
  return resolveDhcpHookConfig(values, o, confPath);
}
