// labops dc jobs | dc setup | dc check: the DC side of LINBO Docker (job consumer, installation, checks).
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { durationArg, intArg } from '../args.js';
import { act, looping } from '../action.js';
import { UsageError } from '../../domain/errors.js';
import type { Outcome } from '../../domain/outcome.js';

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
  registerDcJobs(dc, f);
  registerDcSetup(dc, f);
  registerDcCheck(dc, f);
  return dc;
}

const DC_JOBS_DESCRIPTION =
  'The DC job consumer, wire-compatible with the LINBO Docker API: reads linbo:jobs as a member of the dc-workers ' +
  'group, repairs machine accounts in sam.ldb, provisions hosts in batches (one import per batch) and reports every ' +
  'outcome to the API before it ACKs. Pending entries of crashed consumers are claimed at startup and periodically; ' +
  'failed macct jobs are retried with exponential backoff, then dead-lettered to linbo:jobs:dlq. No queued job is ' +
  'skipped: a group nobody has joined yet is read from the stream\'s start; a job queued longer ago than ' +
  'JOB_MAX_AGE_SEC (default 86400, 0: never) is not run but reported failed as expired and dead-lettered. Runs until ' +
  'SIGINT/SIGTERM; --once processes what is queued now and exits. Reads /etc/macct-worker.conf and the environment ' +
  'as the Python worker did.';

const DC_JOBS_HELP = [
  'Examples:',
  '  labops dc jobs                       # as the systemd unit runs it',
  '  labops dc jobs --once --json         # one pass, summary as JSON',
  '  labops dc jobs --worker-conf ./macct-worker.conf --consumer dc-02',
  '',
  'Environment: MACCT_WORKER_CONF and the worker keys (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_DB, API_URL,',
  'API_KEY, CONSUMER_NAME, LOG_DIR, REPAIR_SCRIPT, SCHOOL, DEVICES_CSV_MASTER, …; labops adds CLAIM_IDLE_SEC,',
  'CLAIM_INTERVAL_SEC, MAX_RETRIES, RETRY_BACKOFF_SEC, RETRY_BACKOFF_MAX_SEC, MACCT_CONCURRENCY, API_TIMEOUT_SEC,',
  'REPAIR_MODE, LINBO_DIR, IMAGE_DIR, SAM_LDB, JOB_MAX_AGE_SEC).',
  'Exit: 0 done (SIGTERM included); 2 bad config; 3 Redis unreachable at startup; 4 Redis password rejected;',
  '75 --once left entries pending (API unreachable); 130 interrupted.',
].join('\n');

function registerDcJobs(dc: Command, f: Factory): void {
  const jobs = looping(dc.command('jobs'))
    .summary('consume macct_repair and provision_host jobs from Redis (linbo:jobs)')
    .description(DC_JOBS_DESCRIPTION)
    .option('--once', 'one pass: claim and read what is queued now, process it, exit')
    .option('--worker-conf <file>', 'worker config (env MACCT_WORKER_CONF; default /etc/macct-worker.conf)')
    .option('--consumer <name>', 'consumer name in the group (CONSUMER_NAME; default the host name)')
    .option('--batch-size <n>', 'provision jobs per import run (PROVISION_BATCH_SIZE; default 50)', intArg(1, 10000))
    .option('--debounce <dur>', 'wait for more provision jobs before a batch (PROVISION_DEBOUNCE_SEC; default 5s)', durationArg)
    .option('--claim-idle <dur>', 'claim entries pending this long (CLAIM_IDLE_SEC; default 5m)', durationArg)
    .option('--claim-interval <dur>', 'how often to claim (CLAIM_INTERVAL_SEC; default 1m)', durationArg);
  act(jobs, f, (o: DcJobsOptions) => o, runDcJobs);
  helpAfter(jobs, DC_JOBS_HELP);
}

const DC_SETUP_DESCRIPTION =
  'What the DC worker\'s install.sh did: checks the prerequisites (root, a linuxmuster.net server, ldbsearch, ' +
  'ldbmodify, samba-tool, import-devices), asks on a TTY for the LINBO host IP, API key, school and domain (flags for ' +
  'every answer; --no-input for scripts), tests Redis and the API before writing anything, then writes ' +
  '/etc/macct-worker.conf and /etc/linbo-docker-dhcp.conf (mode 600, atomically, keeping keys it does not manage), ' +
  'installs the hook wrapper and the systemd unit and enables it (not started). Reports the keys an older config ' +
  'lacked. --uninstall removes the hook and the unit and keeps configs and logs.';

const DC_SETUP_HELP = [
  'Examples:',
  '  labops dc setup                                        # asks on a TTY',
  '  labops dc setup --no-input --linbo-ip 10.0.0.13 --api-key-file /root/linbo.key --school default-school',
  '  labops dc setup --uninstall',
  '',
  'Exit: 0 installed; 1 a prerequisite failed; 2 missing answer with --no-input; 3 Redis or API unreachable; 4 not root.',
].join('\n');

function registerDcSetup(dc: Command, f: Factory): void {
  const setup = dc
    .command('setup')
    .summary('install the DC side: worker config, DHCP hook, systemd unit')
    .description(DC_SETUP_DESCRIPTION)
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
    .option('--force', 'write even when a prerequisite or the connectivity test fails');
  act(setup, f, (o: DcSetupOptions) => o, runDcSetup);
  helpAfter(setup, DC_SETUP_HELP);
}

function registerDcCheck(dc: Command, f: Factory): void {
  const check = dc
    .command('check')
    .summary('test Redis, the API and the DC files; change nothing')
    .option('--root <dir>', 'prefix for every default path')
    .option('--worker-conf <file>', 'worker config path')
    .option('--hook-conf <file>', 'hook config path')
    .option('--hook-dir <dir>', 'device-import hook directory')
    .option('--systemd-dir <dir>', 'unit directory');
  act(check, f, (o: DcCheckOptions) => o, runDcCheck);
  helpAfter(check, 'Examples:\n  labops dc check\n  labops dc check --json\n\nExit: 0 all checks pass (warnings allowed); 1 a check failed.');
}

function logLine(f: Factory, level: string, msg: string): void {
  if (level === 'debug' && !f.io.verbose) return;
  // journald adds its own timestamp; the level is kept like the worker's "[LEVEL]".
  f.io.error(`${new Date().toISOString()} [${level.toUpperCase()}] ${msg}`);
}

export async function runDcJobs(f: Factory, o: DcJobsOptions): Promise<Outcome[]> {
  const { consumeDcJobs } = await import('../../app/dc.js');
  const summary = await consumeDcJobs(f, o, (level, msg) => logLine(f, level, msg));
  if (f.io.json) f.io.printJson(summary);
  else
    f.io.info(
      `dc jobs: ${summary.received} received, ${summary.completed} completed, ${summary.failed} failed, ${summary.retried} retried, ` +
        `${summary.expired} expired, ${summary.deadLettered} dead-lettered, ${summary.duplicates} duplicates, ${summary.leftPending} left pending; ${summary.importRuns} import run(s)`,
    );
  // a pass that left jobs pending (lock held, peer away) is "try again"
  return o.once && summary.leftPending > 0 ? ['tempfail'] : [];
}

export async function runDcSetup(f: Factory, o: DcSetupOptions): Promise<void> {
  const dc = await import('../../app/dc.js');
  if (o.uninstall) {
    const r = await dc.uninstallDc(f, o);
    if (f.io.json) return f.io.printJson(r);
    for (const p of r.removed) f.io.out(`removed ${p}`);
    for (const p of r.kept) f.io.out(`kept    ${p}`);
    return;
  }
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
  const apiKey = await ask('internal API key (--api-key-file)', await dc.readSecretFile(o.apiKeyFile, 'API key'), undefined, true);
  const school = await ask('school (--school)', o.school, 'default-school');
  const domain = await ask('DNS domain (--domain)', o.domain, 'linuxmuster.lan');
  const r = await dc.setupDc(
    f,
    { linboIp, apiKey, school, domain, redisPort: o.redisPort ?? 6379, apiPort: o.apiPort ?? 3000, redisPassword: await dc.readSecretFile(o.redisPasswordFile, 'Redis password') },
    o,
  );
  if (f.io.json) return f.io.printJson(r);
  for (const c of r.checks) f.io.info(`${c.status.padEnd(4)} ${c.name}: ${c.detail}`);
  for (const p of r.written) f.io.out(`wrote ${p}`);
  if (r.addedToOldConfig.length) f.io.warn(`the existing worker config lacked ${r.addedToOldConfig.length} key(s), added with defaults: ${r.addedToOldConfig.join(', ')}`);
  f.io.info(r.enabled ? 'enabled labops-dc-jobs.service (not started): systemctl start labops-dc-jobs' : 'unit installed; enable it with: systemctl enable --now labops-dc-jobs');
}

export async function runDcCheck(f: Factory, o: DcCheckOptions): Promise<Outcome[]> {
  const { checkDc } = await import('../../app/dc.js');
  const checks = await checkDc(f, o);
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
  // checks are not targets: any failed check fails the run (warnings do not)
  return [checks.some((c) => c.status === 'fail') ? 'failed' : 'ok'];
}
