// labops dc jobs|setup|check and the daemon's DC job consumer: the worker config, the real Redis, LINBO API,
// file system and systemctl behind the DC side of LINBO Docker.
import type { AppContext } from './context.js';
import type { DcJobsSummary, LogLevel } from '../ops/dc-jobs.js';
import type { Check, DcPaths, DcSetupAnswers, DcSetupPorts, DcSetupResult } from '../ops/dc-setup.js';

export interface ConsumerOptions {
  once?: boolean;
  workerConf?: string;
  consumer?: string;
  batchSize?: number;
  /** ms */
  debounce?: number;
  claimIdle?: number;
  claimInterval?: number;
}

/** Consumes DC jobs until stopped (SIGINT or SIGTERM: stop reading, finish the job in hand), or one pass with `once`. */
export async function consumeDcJobs(ctx: AppContext, o: ConsumerOptions, log: (level: LogLevel, message: string) => void): Promise<DcJobsSummary> {
  const { runDcJobConsumer } = await import('../ops/dc-jobs.js');
  const overrides: Record<string, string> = {};
  if (o.consumer) overrides.consumer_name = o.consumer;
  if (o.batchSize !== undefined) overrides.provision_batch_size = String(o.batchSize);
  if (o.debounce !== undefined) overrides.provision_debounce_sec = String(o.debounce / 1000);
  if (o.claimIdle !== undefined) overrides.claim_idle_sec = String(o.claimIdle / 1000);
  if (o.claimInterval !== undefined) overrides.claim_interval_sec = String(o.claimInterval / 1000);
  return runDcJobConsumer({ env: ctx.env, workerConf: o.workerConf, overrides, signal: ctx.stop, once: o.once, log });
}

export interface DcPathOptions {
  root?: string;
  workerConf?: string;
  hookConf?: string;
  hookDir?: string;
  systemdDir?: string;
}

async function dcPaths(o: DcPathOptions): Promise<DcPaths> {
  const { defaultDcPaths } = await import('../ops/dc-setup.js');
  const d = defaultDcPaths(o.root ?? '');
  return { ...d, workerConf: o.workerConf ?? d.workerConf, hookConf: o.hookConf ?? d.hookConf, hookDir: o.hookDir ?? d.hookDir, systemdDir: o.systemdDir ?? d.systemdDir };
}

export async function setupDc(ctx: AppContext, answers: DcSetupAnswers, o: DcPathOptions & { force?: boolean; enable: boolean }): Promise<DcSetupResult> {
  const [{ dcSetup }, paths, ports] = await Promise.all([import('../ops/dc-setup.js'), dcPaths(o), setupPorts(ctx, o.enable)]);
  return dcSetup(answers, paths, ports, { force: o.force, enable: o.enable });
}

export async function uninstallDc(ctx: AppContext, o: DcPathOptions & { enable: boolean }): Promise<{ removed: string[]; kept: string[] }> {
  const [{ dcUninstall }, paths, ports] = await Promise.all([import('../ops/dc-setup.js'), dcPaths(o), setupPorts(ctx, o.enable)]);
  return dcUninstall(paths, ports, { enable: o.enable });
}

export async function checkDc(ctx: AppContext, o: DcPathOptions): Promise<Check[]> {
  const [{ dcCheck }, { loadMacctWorkerConfig }, paths] = await Promise.all([import('../ops/dc-check.js'), import('../core/config/macct-worker-conf.js'), dcPaths(o)]);
  const wc = loadMacctWorkerConfig(o.workerConf ?? ctx.env.MACCT_WORKER_CONF ?? paths.workerConf, ctx.env);
  const v = wc.values;
  return dcCheck(
    {
      redisHost: v.redis_host!, redisPort: Number(v.redis_port), redisPassword: v.redis_password || undefined, apiUrl: v.api_url!, apiKey: v.api_key!,
      master: wc.devicesCsvMaster, importScript: wc.importScript, samLdb: wc.samLdb, consumerName: v.consumer_name!,
    },
    { ...paths, workerConf: wc.file ?? paths.workerConf },
    // systemd is asked about units only for this machine, not for a tree under --root
    await setupPorts(ctx, false, !o.root),
  );
}

/** A secret the operator keeps in a file (--api-key-file, --redis-password-file). */
export async function readSecretFile(path: string | undefined, what: string): Promise<string | undefined> {
  if (!path) return undefined;
  const [{ readFileSync }, { UsageError }] = await Promise.all([import('node:fs'), import('../domain/errors.js')]);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The real file system, Redis, LINBO API and systemctl behind dc setup and dc check; `units`: ask systemd about units. */
async function setupPorts(ctx: AppContext, enable: boolean, units = false): Promise<DcSetupPorts> {
  const [{ existsSync, readFileSync, statSync, unlinkSync, chmodSync, mkdirSync }, { dirname }, atomic, { checkRedis }, { LinboApiClient }, { execFileSync, execFile }, { childEnv }, { hostname }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('../core/fs/atomic-write.js'),
    import('../core/streams/redis-streams.js'),
    import('../core/http-apis/linbo-client.js'),
    import('node:child_process'),
    import('../core/child-env.js'),
    import('node:os'),
  ]);
  const which = (cmd: string) => [...(ctx.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => `${d}/${cmd}`).find((p) => existsSync(p));
  // systemctl is-active / is-enabled exit non-zero for an inactive or disabled unit: their stdout is the answer
  const systemctlSays = (args: string[]) =>
    new Promise<string>((resolve) => execFile(which('systemctl')!, args, { env: childEnv(ctx.env), timeout: 5000 }, (_e, stdout) => resolve(String(stdout ?? '').trim() || 'unknown')));
  return {
    isRoot: () => process.getuid?.() === 0,
    exists: (p: string) => existsSync(p),
    readFile: (p: string) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
    writeFile(p: string, text: string, mode: number) {
      mkdirSync(dirname(p), { recursive: true });
      atomic.writeFileAtomic(p, text, { mode });
      chmodSync(p, mode);
    },
    remove(p: string) {
      try {
        unlinkSync(p);
        return true;
      } catch {
        return false;
      }
    },
    mode: (p: string) => {
      try {
        return statSync(p).mode;
      } catch {
        return undefined;
      }
    },
    which,
    async checkRedis(host: string, port: number, password: string | undefined) {
      const r = await checkRedis({ host, port, password, connectTimeoutMs: 5000 });
      return `Redis ${host}:${port} answers (version ${r.version ?? '?'})`;
    },
    async checkApi(apiUrl: string, apiKey: string) {
      const c = new LinboApiClient({ apiUrl, apiKey, timeoutMs: 5000, retries: 0 });
      await c.health();
      // An unknown operation: 404 proves the key is accepted, 401 that it is not.
      try {
        await c.getOperation('00000000-0000-4000-8000-000000000000');
      } catch (e) {
        if ((e as Error).constructor.name !== 'OperationNotFound') throw e;
      }
      return `${apiUrl}: healthy, internal key accepted`;
    },
    systemctl: enable && which('systemctl') ? async (args: string[]) => void execFileSync(which('systemctl')!, args, { stdio: 'ignore', env: childEnv(ctx.env) }) : undefined,
    unitState: units && which('systemctl') ? async (unit: string) => ({ active: await systemctlSays(['is-active', unit]), enabled: await systemctlSays(['is-enabled', unit]) }) : undefined,
    hostname: () => hostname(),
    labopsCommand: await (await import('../core/self-command.js')).labopsSelfCommand(),
  };
}

