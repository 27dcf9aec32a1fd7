// labops provision sessions|cleanup: the collector's lab-session provisioning and the cleanup worker,
// with claims, quoting, host-key checks, timeouts that kill and backoff.
import { Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act, listing, looping } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
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
    looping(group.command('sessions'))
      .summary('REQUESTED lab_sessions -> SSH provision script -> ACTIVE/FAILED')
      .description(
        "Claim each lab_sessions row with status='REQUESTED' AND provisioned=0 (REQUESTED -> PROVISIONING, so two labops instances or the old " +
          'provision worker never run it twice), run the lab\'s provision script on its server (or on labs.bastion_host) with every argument ' +
          'shell-quoted, then set ACTIVE + provisioned=1 on exit 0, FAILED on a non-zero exit, a timeout or an authentication/host-key failure ' +
          '(reason and stderr kept in labops_session_log), or release it to REQUESTED with backoff when the host is unreachable.',
      ),
  );
  act(listing(sessions), f, (o: Omit<ProvisionRunOptions, 'once'> & { once?: boolean }): ProvisionRunOptions => ({ ...o, once: Boolean(o.once) }), (f2, o) => runProvision(f2, 'sessions', o));
  helpAfter(
    sessions,
    'Examples:\n  labops provision sessions --once\n  labops provision sessions --concurrency 32 --timeout 5m\n  labops provision sessions --contract provision-worker --accept-new\n\n' +
      'Exit (--once): 0 all provisioned (or nothing to do), 1 script failed, 2 bad data (missing script path, address, lab, column), 3 unreachable, 4 auth/host key, 5 mixed.',
  );
  const cleanup = sshOptions(
    looping(group.command('cleanup'))
      .summary('expired/revoked sessions -> cleanup script -> EXPIRED')
      .description(
        "Run the lab's cleanup script for provisioned sessions that are ACTIVE past access_expiry (UTC) or REVOKED, then set EXPIRED (REVOKED stays) " +
          'and provisioned=0. Failures are retried with backoff and reported.',
      ),
  );
  act(listing(cleanup), f, (o: Omit<ProvisionRunOptions, 'once'> & { once?: boolean }): ProvisionRunOptions => ({ ...o, once: Boolean(o.once) }), (f2, o) => runProvision(f2, 'cleanup', o));
  helpAfter(cleanup, 'Examples:\n  labops provision cleanup --once\n  labops provision cleanup --contract provision-worker\n\nExit (--once): as for provision sessions.');
  return group;
}

async function runProvision(f: Factory, job: 'sessions' | 'cleanup', o: ProvisionRunOptions): Promise<Outcome[]> {
  const app = await import('../../app/provision.js');
  if (!o.once) {
    const line = (r: { sessionId: number; outcome: string; status: string; host: string | null; message: string }) =>
      `session ${r.sessionId}: ${r.outcome} -> ${r.status}${r.host ? ` on ${r.host}` : ''}: ${r.message}`;
    await app.provisionUntilStopped(f, job, {
      onResult: (r) => (f.io.json ? f.io.out(JSON.stringify(r)) : f.io.info(line(r))),
      onNotice: (t) => f.io.warn(t),
      onError: (e) => f.io.warn(`labops: ${(e as Error).message}`),
    }, { flags: o });
    return [];
  }
  if (job === 'sessions') {
    const result = await app.provisionPass(f, o);
    for (const u of result.unknownLab) f.io.warn(u.message);
    for (const id of result.recovered) f.io.warn(`session ${id}: released a stale PROVISIONING claim`);
    if (f.io.json) f.io.printJson(result);
    else await renderSessions(f, result.sessions);
    return [...result.sessions.filter((s) => s.outcome !== 'taken').map((s) => s.category), ...result.unknownLab.map(() => 'usage' as const)];
  }
  const result = await app.cleanupPass(f, o);
  if (f.io.json) f.io.printJson(result);
  else await renderSessions(f, result.sessions);
  return result.sessions.filter((s) => s.outcome !== 'taken').map((s) => s.category);
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
      { header: 'DETAIL', flex: true, value: (r) => r.message },
    ],
    rows,
  );
  if (f.io.stdoutIsTTY && rows.length === 0) f.io.info('nothing to do');
}
