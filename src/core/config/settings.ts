// Every configurable value as data: its key in the config file, environment variables (seed names
// included), default and description. Rendered into `config show`, the README and the man page.
import { homedir } from 'node:os';
import { join } from 'node:path';

export type SettingType = 'string' | 'path' | 'int' | 'duration' | 'bool' | 'secret' | 'url';

export interface SettingDef {
  key: string;
  type: SettingType;
  env: readonly string[];
  /** the global flag that sets it, when there is one */
  flag?: string;
  default?: (env: NodeJS.ProcessEnv) => string | undefined;
  description: string;
}

export function xdgConfigHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
}
export function xdgStateHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
}

export const SETTINGS: readonly SettingDef[] = [
  {
    key: 'hosts',
    type: 'path',
    env: ['OPS_CONFIG', 'LABOPS_HOSTS'],
    flag: '--hosts',
    default: (env) => join(xdgConfigHome(env), 'labops', 'hosts.json'),
    description: 'host inventory in the seed hosts.json format',
  },
  {
    key: 'db',
    type: 'url',
    env: ['LABOPS_DB', 'MYSQL_DSN'],
    flag: '--db',
    default: (env) => `sqlite:${join(xdgStateHome(env), 'labops', 'labops.db')}`,
    description: 'database: sqlite:<path> (embedded default) or mysql://user:pass@host:3306/db (mysql+pymysql:// accepted)',
  },
  {
    key: 'credentials',
    type: 'path',
    env: ['LABOPS_CREDENTIALS'],
    description: 'JSON file of WinRM credentials kept apart from the inventory ({"default":{user,password},"hosts":{<name>:{…}}})',
  },
  { key: 'winrm.user', type: 'string', env: ['LABOPS_WINRM_USER'], description: 'WinRM user for hosts that name none' },
  {
    key: 'winrm.password',
    type: 'secret',
    env: ['LABOPS_WINRM_PASSWORD'],
    description: 'WinRM password for hosts that name none (a reference: env:NAME or file:/path)',
  },
  { key: 'wol.broadcast', type: 'string', env: ['LABOPS_WOL_BROADCAST'], default: () => '255.255.255.255', description: 'magic packet destination address' },
  { key: 'wol.port', type: 'int', env: ['LABOPS_WOL_PORT'], default: () => '9', description: 'magic packet UDP port' },
  { key: 'wol.repeat', type: 'int', env: [], default: () => '3', description: 'magic packets sent per attempt' },
  { key: 'wol.attempts', type: 'int', env: [], default: () => '3', description: 'wake attempts (packet, wait, probe) per host' },
  { key: 'wol.interval', type: 'duration', env: [], default: () => '10s', description: 'wait after each packet before probing' },
  { key: 'wol.timeout', type: 'duration', env: [], default: () => '10s', description: 'probe timeout' },
  { key: 'wol.concurrency', type: 'int', env: [], default: () => '64', description: 'hosts woken at once' },
  { key: 'wol.probe', type: 'string', env: [], default: () => 'icmp', description: 'boot probe for hosts whose inventory names none: icmp or tcp:<port>' },
  { key: 'cml.concurrency', type: 'int', env: ['LABOPS_CML_CONCURRENCY'], default: () => '5', description: 'CML servers synced at once' },
  { key: 'cml.lab_concurrency', type: 'int', env: ['LABOPS_CML_LAB_CONCURRENCY'], default: () => '8', description: 'lab details fetched at once per CML server (also its keep-alive connection pool size)' },
  { key: 'cml.timeout', type: 'duration', env: ['LABOPS_CML_TIMEOUT'], default: () => '30s', description: 'deadline of one CML API request, connect to last byte' },
  { key: 'cml.refresh_interval', type: 'duration', env: ['LABS_REFRESH_INTERVAL'], default: () => '30m', description: 'daemon: interval of the CML labs refresh loop (seed LABS_REFRESH_INTERVAL, seconds)' },
];

/** Environment variables that are not settings but change behaviour; documented with the settings. */
export const OTHER_ENV: readonly { name: string; description: string }[] = [
  { name: 'LABOPS_CONFIG', description: 'config file (same as --config); default $XDG_CONFIG_HOME/labops/config.json' },
  { name: 'NO_COLOR', description: 'disable colour on a TTY' },
  { name: 'XDG_CONFIG_HOME', description: 'base of the default config and inventory paths' },
  { name: 'XDG_STATE_HOME', description: 'base of the embedded SQLite database path' },
  { name: 'CI', description: 'set by CI systems: treated as non-interactive' },
];

export function settingByKey(key: string): SettingDef | undefined {
  return SETTINGS.find((s) => s.key === key);
}
