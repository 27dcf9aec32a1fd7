// labops dc jobs | dc setup | dc check: the DC side of LINBO Docker (job consumer, installation, checks).
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { durationArg, intArg } from '../args.js';
import type { DcPaths } from '../../ops/dc-setup.js';

export interface DcJobsOptions {
  once?: boolean;
  workerConf?: string;
  consumer?: string;
  batchSize?: number;
  debounce?: number;
  claimIdle?: number;
  claimInterval?: number;
}

export interface DcSetupOptions {
  uninstall?: boolean;
  linboIp?: string;
  apiKeyFile?: string;
  school?: string;
  domain?: string;
  redisPort?: number;
  apiPort?: number;
  redisPasswordFile?: string;
  root?: string;
  workerConf?: string;
  hookConf?: string;
  hookDir?: string;
  systemdDir?: string;
  enable: boolean;
  force?: boolean;
}

export interface DcCheckOptions {
  root?: string;
  workerConf?: string;
  hookConf?: string;
  hookDir?: string;
  systemdDir?: string;
}

export function registerDc(parent: Command, f: Factory): Command {
  const dc = parent.command('dc').summary('the LINBO Docker DC side: job consumer, setup, checks');
  const jobs = dc
    .command('jobs')
    .summary('consume macct_repair and provision_host jobs from Redis (linbo:jobs)')
    .description(
      'The DC job consumer, wire-compatible with the LINBO Docker API: reads linbo:jobs as a member of the dc-workers ' +
        'group, repairs machine accounts in sam.ldb, provisions hosts in batches (one import per batch) and reports every ' +
        'outcome to the API before it ACKs. Pending entries of crashed consumers are claimed at startup and periodically; ' +
        'failed macct jobs are retried with exponential backoff, then dead-lettered to linbo:jobs:dlq. Runs until ' +
        'SIGINT/SIGTERM; --once processes what is queued now and exits. Reads /etc/macct-worker.conf and the environment ' +
        'as the Python worker did.',
    )
    .option('--once', 'one pass: claim and read what is queued now, process it, exit')
    .option('--worker-conf <file>', 'worker config (env MACCT_WORKER_CONF; default /etc/macct-worker.conf)')
    .option('--consumer <name>', 'consumer name in the group (CONSUMER_NAME; default the host name)')
    .option('--batch-size <n>', 'provision jobs per import run (PROVISION_BATCH_SIZE; default 50)', intArg(1, 10000))
    .option('--debounce <dur>', 'wait for more provision jobs before a batch (PROVISION_DEBOUNCE_SEC; default 5s)', durationArg)
    .option('--claim-idle <dur>', 'claim entries pending this long (CLAIM_IDLE_SEC; default 5m)', durationArg)
    .option('--claim-interval <dur>', 'how often to claim (CLAIM_INTERVAL_SEC; default 1m)', durationArg)
    .action(async (o: DcJobsOptions) => runDcJobs(f, o));
  helpAfter(
    jobs,
    [
      'Examples:',
      '  labops dc jobs                       # as the systemd unit runs it',
      '  labops dc jobs --once --json         # one pass, summary as JSON',
      '  labops dc jobs --worker-conf ./macct-worker.conf --consumer dc-02',
      '',
      'Environment: MACCT_WORKER_CONF and the worker keys (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_DB, API_URL,',
      'API_KEY, CONSUMER_NAME, LOG_DIR, REPAIR_SCRIPT, SCHOOL, DEVICES_CSV_MASTER, …; labops adds CLAIM_IDLE_SEC,',
      'CLAIM_INTERVAL_SEC, MAX_RETRIES, RETRY_BACKOFF_SEC, RETRY_BACKOFF_MAX_SEC, MACCT_CONCURRENCY, API_TIMEOUT_SEC,',
      'REPAIR_MODE, LINBO_DIR, IMAGE_DIR, SAM_LDB).',
      'Exit: 0 done (SIGTERM included); 2 bad config; 3 Redis unreachable at startup; 4 Redis password rejected;',
      '75 --once left entries pending (API unreachable); 130 interrupted.',
    ].join('\n'),
  );

  const setup = dc
    .command('setup')
    .summary('install the DC side: worker config, DHCP hook, systemd unit')
    .description(
      'What the DC worker\'s install.sh did: checks the prerequisites (root, a linuxmuster.net server, ldbsearch, ' +
        'ldbmodify, samba-tool, import-devices), asks on a TTY for the LINBO host IP, API key, school and domain (flags for ' +
        'every answer; --no-input for scripts), tests Redis and the API before writing anything, then writes ' +
        '/etc/macct-worker.conf and /etc/linbo-docker-dhcp.conf (mode 600, atomically, keeping keys it does not manage), ' +
        'installs the hook wrapper and the systemd unit and enables it (not started). Reports the keys an older config ' +
        'lacked. --uninstall removes the hook and the unit and keeps configs and logs.',
    )
    .option('--uninstall', 'remove the hook wrapper and the unit; keep configs and logs')
    .option('--linbo-ip <addr>', 'LINBO Docker host (Redis and API)')
    .option('--api-key-file <file>', 'file holding the internal API key (asked for on a TTY otherwise)')
    .option('--school <school>', 'school (default default-school)')
    .option('--domain <domain>', 'DNS domain (default linuxmuster.lan)')
    .option('--redis-port <n>', 'Redis port (default 6379)', intArg(1, 65535))
    .option('--api-port <n>', 'API port (default 3000)', intArg(1, 65535))
    .option('--redis-password-file <file>', 'file holding the Redis password, if Redis has one')
    .option('--root <dir>', 'prefix for every default path (tests, staging)')
    .option('--worker-conf <file>', 'worker config path (default <root>/etc/macct-worker.conf)')
    .option('--hook-conf <file>', 'hook config path (default <root>/etc/linbo-docker-dhcp.conf)')
    .option('--hook-dir <dir>', 'device-import hook directory (default <root>/var/lib/linuxmuster/hooks/device-import.post.d)')
    .option('--systemd-dir <dir>', 'unit directory (default <root>/etc/systemd/system)')
    .option('--no-enable', 'do not run systemctl daemon-reload/enable')
    .option('--force', 'write even when a prerequisite or the connectivity test fails')
    .action(async (o: DcSetupOptions) => runDcSetup(f, o));
  helpAfter(
    setup,
    [
      'Examples:',
      '  labops dc setup                                        # asks on a TTY',
      '  labops dc setup --no-input --linbo-ip 10.0.0.13 --api-key-file /root/linbo.key --school default-school',
      '  labops dc setup --uninstall',
      '',
      'Exit: 0 installed; 1 a prerequisite failed; 2 missing answer with --no-input; 3 Redis or API unreachable; 4 not root.',
    ].join('\n'),
  );

  const check = dc
    .command('check')
    .summary('test Redis, the API and the DC files; change nothing')
    .option('--root <dir>', 'prefix for every default path')
    .option('--worker-conf <file>', 'worker config path')
    .option('--hook-conf <file>', 'hook config path')
    .option('--hook-dir <dir>', 'device-import hook directory')
    .option('--systemd-dir <dir>', 'unit directory')
    .action(async (o: DcCheckOptions) => runDcCheck(f, o));
  helpAfter(check, 'Examples:\n  labops dc check\n  labops dc check --json\n\nExit: 0 all checks pass (warnings allowed); 1 a check failed.');
  return dc;
}

function logLine(f: Factory, level: string, msg: string): void {
  if (level === 'debug' && !f.io.verbose) return;
  // journald adds its own timestamp; the level is kept like the worker's "[LEVEL]".
  f.io.error(`${new Date().toISOString()} [${level.toUpperCase()}] ${msg}`);
}

export async function runDcJobs(f: Factory, o: DcJobsOptions): Promise<void> {
  const { runDcJobConsumer } = await import('../../ops/dc-jobs.js');
  // SIGTERM (systemd stop) ends the run like SIGINT but exits 0: stop reading, finish the job in hand.
  const stop = new AbortController();
  const onTerm = () => stop.abort();
  const onParent = () => stop.abort();
  f.signal.addEventListener('abort', onParent, { once: true });
  if (!o.once) process.once('SIGTERM', onTerm);
  try {
    const overrides: Record<string, string> = {};
    if (o.consumer) overrides.consumer_name = o.consumer;
    if (o.batchSize !== undefined) overrides.provision_batch_size = String(o.batchSize);
    if (o.debounce !== undefined) overrides.provision_debounce_sec = String(o.debounce / 1000);
    if (o.claimIdle !== undefined) overrides.claim_idle_sec = String(o.claimIdle / 1000);
    if (o.claimInterval !== undefined) overrides.claim_interval_sec = String(o.claimInterval / 1000);
    const summary = await runDcJobConsumer({
      env: f.env,
      workerConf: o.workerConf,
      overrides,
      signal: stop.signal,
      once: o.once,
      log: (level, msg) => logLine(f, level, msg),
    });
    if (f.io.json) f.io.printJson(summary);
    else
      f.io.info(
        `dc jobs: ${summary.received} received, ${summary.completed} completed, ${summary.failed} failed, ${summary.retried} retried, ` +
          `${summary.deadLettered} dead-lettered, ${summary.duplicates} duplicates, ${summary.leftPending} left pending; ${summary.importRuns} import run(s)`,
      );
    if (o.once && summary.leftPending > 0 && !f.signal.aborted) {
      const { Silent } = await import('../../domain/errors.js');
      throw new Silent('tempfail');
    }
  } finally {
    process.off('SIGTERM', onTerm);
    f.signal.removeEventListener('abort', onParent);
  }
}

async function readSecretFile(path: string | undefined, what: string): Promise<string | undefined> {
  if (!path) return undefined;
  const { readFileSync } = await import('node:fs');
  const { UsageError } = await import('../../domain/errors.js');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function setupPorts(f: Factory, enable: boolean) {
  const [{ existsSync, readFileSync, statSync, unlinkSync, chmodSync, mkdirSync }, { dirname }, atomic, { checkRedis }, { LinboApiClient }, { execFileSync }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('../../core/fs/atomic-write.js'),
    import('../../core/streams/redis-streams.js'),
    import('../../core/http-apis/linbo-client.js'),
    import('node:child_process'),
  ]);
  const which = (cmd: string) => [...(f.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => `${d}/${cmd}`).find((p) => existsSync(p));
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
    systemctl: enable && which('systemctl') ? async (args: string[]) => void execFileSync(which('systemctl')!, args, { stdio: 'ignore' }) : undefined,
    labopsCommand: await (await import('../../core/self-command.js')).labopsSelfCommand(),
  };
}

function dcPathsFrom(o: DcCheckOptions, defaults: DcPaths) {
  return {
    ...defaults,
    workerConf: o.workerConf ?? defaults.workerConf,
    hookConf: o.hookConf ?? defaults.hookConf,
    hookDir: o.hookDir ?? defaults.hookDir,
    systemdDir: o.systemdDir ?? defaults.systemdDir,
  };
}

export async function runDcSetup(f: Factory, o: DcSetupOptions): Promise<void> {
  const { dcSetup, dcUninstall, defaultDcPaths } = await import('../../ops/dc-setup.js');
  const paths = dcPathsFrom(o, defaultDcPaths(o.root ?? ''));
  const ports = await setupPorts(f, o.enable);
  if (o.uninstall) {
    const r = await dcUninstall(paths, ports, { enable: o.enable });
    if (f.io.json) return f.io.printJson(r);
    for (const p of r.removed) f.io.out(`removed ${p}`);
    for (const p of r.kept) f.io.out(`kept    ${p}`);
    return;
  }
  const { UsageError } = await import('../../domain/errors.js');
  const ask = async (what: string, given: string | undefined, def?: string, secret = false): Promise<string> => {
    if (given) return given;
    if (!f.io.canPrompt()) {
      if (def !== undefined) return def;
      throw new UsageError(`${what} is required: pass it as a flag (--no-input or no TTY)`);
    }
    const { input, password } = await import('@inquirer/prompts');
    const ctx = { input: f.io.stdin, output: f.io.stdout };
    return secret ? password({ message: what, mask: '*' }, ctx) : input({ message: what, default: def }, ctx);
  };
  const linboIp = await ask('LINBO Docker host IP (--linbo-ip)', o.linboIp);
  const apiKey = await ask('internal API key (--api-key-file)', await readSecretFile(o.apiKeyFile, 'API key'), undefined, true);
  const school = await ask('school (--school)', o.school, 'default-school');
  const domain = await ask('DNS domain (--domain)', o.domain, 'linuxmuster.lan');
  const r = await dcSetup(
    { linboIp, apiKey, school, domain, redisPort: o.redisPort ?? 6379, apiPort: o.apiPort ?? 3000, redisPassword: await readSecretFile(o.redisPasswordFile, 'Redis password') },
    paths,
    ports,
    { force: o.force, enable: o.enable },
  );
  if (f.io.json) return f.io.printJson(r);
  for (const c of r.checks) f.io.info(`${c.status.padEnd(4)} ${c.name}: ${c.detail}`);
  for (const p of r.written) f.io.out(`wrote ${p}`);
  if (r.addedToOldConfig.length) f.io.warn(`the existing worker config lacked ${r.addedToOldConfig.length} key(s), added with defaults: ${r.addedToOldConfig.join(', ')}`);
  f.io.info(r.enabled ? 'enabled labops-dc-jobs.service (not started): systemctl start labops-dc-jobs' : 'unit installed; enable it with: systemctl enable --now labops-dc-jobs');
}

export async function runDcCheck(f: Factory, o: DcCheckOptions): Promise<void> {
  const [{ dcCheck, defaultDcPaths }, { loadMacctWorkerConfig }] = await Promise.all([import('../../ops/dc-setup.js'), import('../../core/config/macct-worker-conf.js')]);
  const paths = dcPathsFrom(o, defaultDcPaths(o.root ?? ''));
  const wc = loadMacctWorkerConfig(o.workerConf ?? f.env.MACCT_WORKER_CONF ?? paths.workerConf, f.env);
  const v = wc.values;
  const checks = await dcCheck(
    { redisHost: v.redis_host!, redisPort: Number(v.redis_port), redisPassword: v.redis_password || undefined, apiUrl: v.api_url!, apiKey: v.api_key!, master: wc.devicesCsvMaster, importScript: wc.importScript, samLdb: wc.samLdb },
    { ...paths, workerConf: wc.file ?? paths.workerConf },
    await setupPorts(f, false),
  );
  if (f.io.json) f.io.printJson({ checks, ok: !checks.some((c) => c.status === 'fail') });
  else {
    const { renderTable } = await import('../io/render.js');
    renderTable<(typeof checks)[number]>(
      f.io,
      [
        { header: 'CHECK', value: (c) => c.name },
        { header: 'STATUS', value: (c) => c.status, pretty: (c, col) => (c.status === 'ok' ? col.green : c.status === 'warn' ? col.yellow : col.red)(c.status) },
        { header: 'DETAIL', value: (c) => c.detail },
      ],
      checks,
    );
  }
  if (checks.some((c) => c.status === 'fail')) {
    const { Silent } = await import('../../domain/errors.js');
    throw new Silent('failed');
  }
}
