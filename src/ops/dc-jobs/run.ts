// The consumer as `labops dc jobs` and `labops daemon --only dc-jobs` run it: the worker config read into
// typed settings, Redis, the LINBO API client, the repair and provision ports, then consumeDcJobs.
import type { MacctWorkerConfig } from '../../core/config/macct-worker-conf.js';
import type { ProvisionPorts } from '../provision-hosts.js';
import { systemClock } from '../../core/clock.js';
import { UsageError } from '../../domain/errors.js';
import { consumeDcJobs } from './consumer.js';
import { defaultDcJobsSettings, type DcJobsSettings, type DcJobsSummary, type LogLevel } from './types.js';

export interface RunDcJobConsumerOptions {
  env: NodeJS.ProcessEnv;
  /** default: $MACCT_WORKER_CONF, else /etc/macct-worker.conf (read only when it exists, like the worker) */
  workerConf?: string;
  /** worker config keys (lowercase) that win over the file and the environment */
  overrides?: Partial<Record<string, string>>;
  signal: AbortSignal;
  /** one pass: take what is pending and queued now, process it, return */
  once?: boolean;
  log(level: LogLevel, message: string): void;
  /** settings that win over the config (tests, benchmark) */
  settings?: Partial<DcJobsSettings>;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** wraps the provision ports (benchmark: counting, a verify without sam.ldb) */
  wrapProvisionPorts?: (p: ProvisionPorts) => ProvisionPorts;
}

/** The consumer's numbers from the worker config; a bad one is a UsageError naming the file. */
export interface ConsumerConfig {
  settings: DcJobsSettings;
  apiUrl: string;
  redisPort: number;
  redisDb: number;
  apiTimeoutMs: number;
  lockWaitMs: number;
  importTimeoutMs: number;
}

const httpUrl = (v: string | undefined, what: string): string => {
  let u: URL | undefined;
  try {
    u = new URL(v ?? '');
  } catch {
    // reported below
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new Error(`invalid ${what}: '${v}' (e.g. http://10.0.0.13:3000/api/v1)`);
  return v!;
};

const num = (v: string | undefined, what: string): number => {
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`invalid ${what}: '${v}'`);
  return n;
};

export function consumerConfig(wc: MacctWorkerConfig, settings: Partial<DcJobsSettings> = {}): ConsumerConfig {
  const v = wc.values;
  if (!v.consumer_name) throw new UsageError('CONSUMER_NAME is empty');
  try {
    const claimIdleMs = num(v.claim_idle_sec, 'CLAIM_IDLE_SEC') * 1000;
    return {
      settings: {
        ...defaultDcJobsSettings(v.consumer_name),
        batchSize: Math.max(1, num(v.provision_batch_size, 'PROVISION_BATCH_SIZE')),
        debounceMs: num(v.provision_debounce_sec, 'PROVISION_DEBOUNCE_SEC') * 1000,
        claimIdleMs,
        claimIntervalMs: num(v.claim_interval_sec, 'CLAIM_INTERVAL_SEC') * 1000,
        keepaliveMs: Math.max(50, Math.min(60_000, claimIdleMs / 3)),
        retry: { maxAttempts: Math.max(1, num(v.max_retries, 'MAX_RETRIES')), baseMs: num(v.retry_backoff_sec, 'RETRY_BACKOFF_SEC') * 1000, maxMs: num(v.retry_backoff_max_sec, 'RETRY_BACKOFF_MAX_SEC') * 1000 },
        macctConcurrency: Math.max(1, num(v.macct_concurrency, 'MACCT_CONCURRENCY')),
        maxJobAgeMs: num(v.job_max_age_sec, 'JOB_MAX_AGE_SEC') * 1000,
        ...settings,
      },
      apiUrl: httpUrl(v.api_url, 'API_URL'),
      redisPort: num(v.redis_port, 'REDIS_PORT'),
      redisDb: num(v.redis_db, 'REDIS_DB'),
      apiTimeoutMs: num(v.api_timeout_sec, 'API_TIMEOUT_SEC') * 1000,
      lockWaitMs: num(v.provision_lock_wait_sec, 'PROVISION_LOCK_WAIT_SEC') * 1000,
      importTimeoutMs: num(v.import_timeout_sec, 'IMPORT_TIMEOUT_SEC') * 1000,
    };
  } catch (e) {
    throw new UsageError(`${wc.file ?? 'worker config'}: ${(e as Error).message}`);
  }
}

/**
 * Reads the worker config, resolves LINBO_DOMAIN (a wrong `auto` fails here, before anything is read),
 * connects to Redis (a wrong password or an unreachable Redis at startup throws AuthFailed /
 * Unreachable) and consumes until `signal` aborts (or one pass with `once`).
 */
export async function runDcJobConsumer(o: RunDcJobConsumerOptions): Promise<DcJobsSummary> {
  const [{ loadMacctWorkerConfig, MACCT_WORKER_CONF }, { RedisJobStream }, { LinboApiClient }, prov, macct, { DLQ_STREAM, JOB_GROUP, JOB_STREAM }] = await Promise.all([
    import('../../core/config/macct-worker-conf.js'),
    import('../../core/streams/redis-streams.js'),
    import('../../core/http-apis/linbo-client.js'),
    import('../provision-hosts.js'),
    import('../macct-repair.js'),
    import('../../domain/dc-jobs.js'),
  ]);
  const wc = loadMacctWorkerConfig(o.workerConf ?? o.env.MACCT_WORKER_CONF ?? MACCT_WORKER_CONF, o.env, o.overrides ?? {});
  const v = wc.values;
  const c = consumerConfig(wc, o.settings);
  const { cfg: provisionCfg, dns } = await prov.provisionHostConfig(wc, { importTimeoutMs: c.importTimeoutMs, env: o.env });
  const sleep = o.sleep ?? systemClock.sleep;
  const stream = await RedisJobStream.connect(
    {
      host: v.redis_host!,
      port: c.redisPort,
      password: v.redis_password || undefined,
      db: c.redisDb,
      onConnectionError: (m) => o.log('warn', `Redis ${v.redis_host}:${c.redisPort}: ${m}; reconnecting`),
      onReady: () => o.log('info', `Redis ${v.redis_host}:${c.redisPort}: connected again`),
    },
    { stream: JOB_STREAM, group: JOB_GROUP, consumer: c.settings.consumer, dlq: DLQ_STREAM },
  );
  try {
    const api = new LinboApiClient({ apiUrl: c.apiUrl, apiKey: v.api_key!, timeoutMs: c.apiTimeoutMs, sleep: (ms) => sleep(ms, o.signal) });
    let provisionPorts = await prov.systemProvisionPorts({
      env: o.env,
      lockWaitMs: c.lockWaitMs,
      lockOwner: `labops dc jobs consumer ${c.settings.consumer}`,
      sleep: (ms) => sleep(ms, o.signal),
      progress: (m) => o.log('info', m),
      confirm: async () => true,
    });
    if (o.wrapProvisionPorts) provisionPorts = o.wrapProvisionPorts(provisionPorts);
    const macctPorts = await macct.systemMacctPorts(o.env);
    const macctCfg = macct.macctRepairConfig(wc);
    o.log('info', `DC job consumer ${c.settings.consumer}: ${JOB_STREAM} group ${JOB_GROUP} on ${v.redis_host}:${c.redisPort}, API ${v.api_url}${o.once ? ' (one pass)' : ''}`);
    if (dns.domain) o.log('info', `DNS check of provisioned hosts: <host>.${dns.domain} (${dns.source})`);
    return await consumeDcJobs(
      c.settings,
      {
        stream,
        api,
        repairMacct: (job) => macct.repairForJob(job, macctCfg, macctPorts),
        provisionBatch: (jobs, bo) => prov.provisionBatch(jobs, { ...provisionCfg, school: bo.school }, provisionPorts, { dryRun: bo.dryRun }),
        now: o.now ?? Date.now,
        sleep,
        log: o.log,
      },
      { signal: o.signal, once: o.once },
    );
  } finally {
    stream.close();
  }
}
