// labops provision sessions|cleanup: the collector's lab-session provisioning and the cleanup worker,
// with claims, quoting, host-key checks, timeouts that kill and backoff.
import { Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import type { SessionOutcome } from '../../ops/provisioning/sessions.js';
import type { CleanupOutcome } from '../../ops/provisioning/cleanup.js';

export interface ProvisionRunOptions {
  once: boolean;
  concurrency?: number;
  timeout?: number;
  interval?: number;
  contract?: string;
  acceptNew?: boolean;
  jump?: string;
  knownHosts?: string;
}

function sshOptions(cmd: Command): Command {
  return cmd
    .option('--once', 'one pass, then exit with a status for it (default: loop until Ctrl-C)')
    .option('--concurrency <n>', 'sessions handled at once (default provision.concurrency, 16)', intArg(1, 1024))
    .option('--timeout <dur>', 'kill a script still running after this long (default provision.timeout, 2m)', durationArg)
    .option('--interval <dur>', 'pause between passes without --once (default 10s)', durationArg)
    .addOption(new Option('--contract <name>', 'script argument contract (default provision.contract)').choices(['collector', 'provision-worker']))
    .option('--accept-new', 'record unknown SSH host keys in the known_hosts file instead of refusing (a changed key is still refused)')
    .option('--known-hosts <file>', 'known_hosts file (default ssh.known-hosts)')
    .option('--jump <user@host[:port]>', 'connect through this jump host (default ssh.jump)');
}

export function registerProvision(parent: Command, f: Factory): Command {
  const group =
    parent.commands.find((c) => c.name() === 'provision') ??
    parent.command('provision').summary('provision lab sessions and hosts').description('Provision lab sessions over SSH (the collector tables) and clean them up.');
  const sessions = sshOptions(
    group
      .command('sessions')
      .summary('REQUESTED lab_sessions -> SSH provision script -> ACTIVE/FAILED')
      .description(
        "Claim each lab_sessions row with status='REQUESTED' AND provisioned=0 (REQUESTED -> PROVISIONING, so two labops instances or the old " +
          'provision worker never run it twice), run the lab\'s provision script on its server (or on labs.bastion_host) with every argument ' +
          'shell-quoted, then set ACTIVE + provisioned=1 on exit 0, FAILED on a non-zero exit, a timeout or an authentication/host-key failure ' +
          '(reason and stderr kept in labops_session_log), or release it to REQUESTED with backoff when the host is unreachable.',
      ),
  ).action((o: Omit<ProvisionRunOptions, 'once'> & { once?: boolean }) => runProvision(f, 'sessions', { ...o, once: Boolean(o.once) }));
  helpAfter(
    sessions,
    'Examples:\n  labops provision sessions --once\n  labops provision sessions --concurrency 32 --timeout 5m\n  labops provision sessions --contract provision-worker --accept-new\n\n' +
      'Exit (--once): 0 all provisioned (or nothing to do), 1 script failed, 2 bad data (missing script path, address, lab, column), 3 unreachable, 4 auth/host key, 5 mixed.',
  );
  const cleanup = sshOptions(
    group
      .command('cleanup')
      .summary('expired/revoked sessions -> cleanup script -> EXPIRED')
      .description(
        "Run the lab's cleanup script for provisioned sessions that are ACTIVE past access_expiry (UTC) or REVOKED, then set EXPIRED (REVOKED stays) " +
          'and provisioned=0. Failures are retried with backoff and reported.',
      ),
  ).action((o: Omit<ProvisionRunOptions, 'once'> & { once?: boolean }) => runProvision(f, 'cleanup', { ...o, once: Boolean(o.once) }));
  helpAfter(cleanup, 'Examples:\n  labops provision cleanup --once\n  labops provision cleanup --contract provision-worker\n\nExit (--once): as for provision sessions.');
  return group;
}

async function runProvision(f: Factory, job: 'sessions' | 'cleanup', o: ProvisionRunOptions): Promise<void> {
  const { sshSetup, contractSetting } = await import('./ssh-deps.js');
  const { cfg, ssh, repo, auth } = await sshSetup(f, o);
  const timeoutMs = o.timeout ?? cfg.durationMs('provision.timeout')!;
  const common = {
    contract: contractSetting(o.contract ?? cfg.get('provision.contract')),
    timeoutMs,
    concurrency: o.concurrency ?? cfg.int('provision.concurrency')!,
    batch: cfg.int('provision.batch')!,
    backoff: { baseMs: cfg.durationMs('provision.backoff-base')!, maxMs: cfg.durationMs('provision.backoff-max')! },
    // a claim outlives the longest possible attempt only when its instance died
    staleAfterMs: timeoutMs + cfg.durationMs('ssh.connect-timeout')! * 2 + 60_000,
    auth,
  };
  const deps = { repo, ssh, now: f.clock.now };
  const line = (o: { sessionId: number; outcome: string; status: string; host: string | null; message: string }) =>
    `session ${o.sessionId}: ${o.outcome} -> ${o.status}${o.host ? ` on ${o.host}` : ''}: ${o.message}`;
  const onError = (e: unknown) => f.io.warn(`labops: ${(e as Error).message}`);
  if (job === 'sessions') {
    const { provisionOnce, provisionLoop } = await import('../../ops/provisioning/sessions.js');
    if (!o.once) {
      const intervalMs = o.interval ?? cfg.durationMs('provision.interval')!;
      return provisionLoop(deps, { ...common, intervalMs }, f.clock.sleep, f.signal, {
        onResult: (r) => (f.io.json ? f.io.out(JSON.stringify(r)) : f.io.info(line(r))),
        onNotice: (t) => f.io.warn(t),
        onError,
      });
    }
    const result = await provisionOnce(deps, common, f.signal);
    for (const u of result.unknownLab) f.io.warn(u.message);
    for (const id of result.recovered) f.io.warn(`session ${id}: released a stale PROVISIONING claim`);
    if (f.io.json) f.io.printJson(result);
    else await renderSessions(f, result.sessions);
    return exitFor([...result.sessions.filter((s) => s.outcome !== 'taken').map((s) => s.category), ...result.unknownLab.map(() => 'usage' as const)]);
  }
  const { cleanupOnce, cleanupLoop } = await import('../../ops/provisioning/cleanup.js');
  if (!o.once) {
    const intervalMs = o.interval ?? cfg.durationMs('provision.cleanup-interval')!;
    return cleanupLoop(deps, { ...common, intervalMs }, f.clock.sleep, f.signal, { onResult: (r) => (f.io.json ? f.io.out(JSON.stringify(r)) : f.io.info(line(r))), onError });
  }
  const result = await cleanupOnce(deps, common, f.signal);
  if (f.io.json) f.io.printJson(result);
  else await renderSessions(f, result.sessions);
  return exitFor(result.sessions.filter((s) => s.outcome !== 'taken').map((s) => s.category));
}

export async function exitFor(categories: ('ok' | 'failed' | 'auth' | 'usage' | 'unreachable' | 'interrupted')[]): Promise<void> {
  const { passOutcome } = await import('../../domain/provision-outcome.js');
  const { Silent } = await import('../../domain/errors.js');
  const outcome = passOutcome(categories);
  if (outcome === 'ok' || outcome === 'interrupted') return;
  throw new Silent(outcome);
}

async function renderSessions(f: Factory, rows: (SessionOutcome | CleanupOutcome)[]): Promise<void> {
  const { renderTable } = await import('../io/render.js');
  renderTable<SessionOutcome | CleanupOutcome>(
    f.io,
    [
      { header: 'SESSION', value: (r) => String(r.sessionId) },
      { header: 'USER', value: (r) => r.username ?? '-' },
      { header: 'OUTCOME', value: (r) => r.outcome, pretty: (r, c) => (r.category === 'ok' ? c.green : r.outcome === 'retry' ? c.yellow : c.red)(r.outcome) },
      { header: 'STATUS', value: (r) => r.status },
      { header: 'HOST', value: (r) => r.host ?? '-' },
      { header: 'EXIT', value: (r) => (r.exitCode === null ? '-' : String(r.exitCode)) },
      { header: 'DETAIL', value: (r) => r.message },
    ],
    rows,
  );
  if (f.io.stdoutIsTTY && rows.length === 0) f.io.info('nothing to do');
}
