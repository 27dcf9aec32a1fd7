// /etc/macct-worker.conf, the DC worker's config (NOTES §2.6): keys are case-insensitive, values
// trimmed and unquoted, unknown keys ignored; the environment gives defaults and the file wins.
// labops fixes the quirks: REDIS_DB is read from the file too, REPAIR_SCRIPT from the environment too,
// `{school}` is filled after the whole file is read (SCHOOL= may come later) and the school given on
// the command line wins; a non-default school's master is `<school>.devices.csv`.
// SAM_LDB and DHCPD_CONF are labops additions (the worker ignores unknown keys), and so are the consumer's
// CLAIM_IDLE_SEC, CLAIM_INTERVAL_SEC, MAX_RETRIES, RETRY_BACKOFF_SEC, RETRY_BACKOFF_MAX_SEC, MACCT_CONCURRENCY,
// API_TIMEOUT_SEC, PROVISION_LOCK_WAIT_SEC, IMPORT_TIMEOUT_SEC and macct-repair's REPAIR_MODE, LINBO_DIR, IMAGE_DIR.
import { hostname } from 'node:os';
import { fillSchool, fixMasterPath, schoolNameProblem, DEFAULT_SCHOOL } from '../../domain/devices-csv/paths.js';
import { UsageError } from '../../domain/errors.js';
import { readKvFile } from './kv-file.js';

export const MACCT_WORKER_CONF = '/etc/macct-worker.conf';

const DEFAULTS: Record<string, string | ((env: NodeJS.ProcessEnv) => string)> = {
  redis_host: 'localhost',
  redis_port: '6379',
  redis_password: '',
  redis_db: '0',
  api_url: 'http://localhost:3000/api/v1',
  api_key: 'linbo-internal-secret',
  consumer_name: () => hostname(),
  log_dir: '/var/log/macct',
  repair_script: '/usr/share/linuxmuster/linbo/repair_macct.py',
  school: DEFAULT_SCHOOL,
  devices_csv_master: '/etc/linuxmuster/sophomorix/{school}/devices.csv',
  devices_csv_delta: '/etc/linuxmuster/sophomorix/{school}/linbo-docker.devices.csv',
  import_script: '/usr/sbin/linuxmuster-import-devices',
  provision_lock_file: '/var/lock/linbo-provision.lock',
  linbo_domain: 'linuxmuster.lan',
  dhcp_verify_file: '',
  samba_tool_auth: '',
  rev_dns_octets: '3',
  provision_batch_size: '50',
  provision_debounce_sec: '5',
  sam_ldb: '/var/lib/samba/private/sam.ldb',
  // labops additions for the job consumer and macct-repair (the worker ignores unknown keys)
  claim_idle_sec: '300',
  claim_interval_sec: '60',
  max_retries: '3',
  retry_backoff_sec: '10',
  retry_backoff_max_sec: '300',
  macct_concurrency: '4',
  job_max_age_sec: '86400',
  api_timeout_sec: '10',
  provision_lock_wait_sec: '300',
  import_timeout_sec: '600',
  repair_mode: 'auto',
  linbo_dir: '/srv/linbo',
  image_dir: '/srv/linbo/images',
};

/** Keys whose values are secrets: never printed, logged or put in --json. */
export const MACCT_SECRET_KEYS = new Set(['redis_password', 'api_key', 'samba_tool_auth']);

export interface MacctWorkerConfig {
  file?: string;
  /** every key (lowercase), with `{school}` filled */
  values: Record<string, string>;
  /** where each value came from */
  sources: Record<string, 'file' | 'env' | 'default' | 'flag'>;
  school: string;
  devicesCsvMaster: string;
  devicesCsvDelta: string;
  importScript: string;
  lockFile: string;
  linboDomain: string;
  dhcpVerifyFile?: string;
  samLdb: string;
}

export function resolveMacctWorkerConfig(
  fileValues: Record<string, string> | undefined,
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<string, string | undefined>> = {},
  file?: string,
): MacctWorkerConfig {
  const values: Record<string, string> = {};
  const sources: MacctWorkerConfig['sources'] = {};
  for (const [key, def] of Object.entries(DEFAULTS)) {
    const flag = flags[key];
    const envValue = env[key.toUpperCase()];
    if (flag !== undefined && flag !== '') {
      values[key] = flag;
      sources[key] = 'flag';
    } else if (fileValues && key in fileValues) {
      values[key] = fileValues[key]!;
      sources[key] = 'file';
    } else if (envValue !== undefined) {
      values[key] = envValue;
      sources[key] = 'env';
    } else {
      values[key] = typeof def === 'function' ? def(env) : def;
      sources[key] = 'default';
    }
  }
  const school = values.school || DEFAULT_SCHOOL;
  const problem = schoolNameProblem(school);
  if (problem) {
    const from = sources.school === 'flag' ? '-s/--school' : sources.school === 'file' ? `SCHOOL in ${file}` : sources.school === 'env' ? '$SCHOOL' : 'SCHOOL';
    throw new UsageError(`${problem} (from ${from}); nothing read or written`);
  }
  for (const k of ['devices_csv_master', 'devices_csv_delta', 'dhcp_verify_file', 'provision_lock_file', 'sam_ldb']) values[k] = fillSchool(values[k]!, school);
  return {
    file,
    values,
    sources,
    school,
    devicesCsvMaster: fixMasterPath(values.devices_csv_master!, school),
    devicesCsvDelta: values.devices_csv_delta!,
    importScript: values.import_script!,
    lockFile: values.provision_lock_file!,
    linboDomain: values.linbo_domain!,
    dhcpVerifyFile: values.dhcp_verify_file || undefined,
    samLdb: values.sam_ldb!,
  };
}

export function loadMacctWorkerConfig(path: string, env: NodeJS.ProcessEnv, flags: Partial<Record<string, string | undefined>> = {}): MacctWorkerConfig {
  const entries = readKvFile(path);
  if (!entries) return resolveMacctWorkerConfig(undefined, env, flags);
  const values: Record<string, string> = {};
  for (const e of entries) values[e.key.toLowerCase()] = e.value;
  return resolveMacctWorkerConfig(values, env, flags, path);
}
