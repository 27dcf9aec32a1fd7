// labops servers check: SSH health metrics -> server_metrics, alerts (one active per server and type).
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act, listing, looping } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { ServerResult } from '../../ops/provisioning/servers.js';

interface CheckOptions {
  once?: boolean;
  concurrency?: number;
  timeout?: number;
  interval?: number;
  acceptNew?: boolean;
  jump?: string;
  knownHosts?: string;
}

export function registerServers(parent: Command, f: Factory): Command {
  const group = parent.commands.find((c) => c.name() === 'servers') ?? parent.command('servers').summary('check the collector servers over SSH').description('Health checks of the servers in the collector tables.');
  const check = looping(group.command('check'))
    .summary('SSH health metrics -> server_metrics, alerts')
    .description(
      'For every servers row with enabled=1: SSH login, then OS, virtualization, uptime, sshd state (unit ssh or sshd), user CPU % (top\'s us, the ' +
        'collector\'s cpu_usage, from two /proc/stat samples), memory % and disk % of / in one round trip, stored in server_metrics. HOST_DOWN / SSHD_DOWN (and SSH_LOGIN_FAILED, ' +
        'CPU_HIGH on the total busy %, MEM_HIGH, DISK_HIGH when thresholds are set) alerts: one active row per server and type, cleared (active=0) on recovery.',
    )
    .option('--once', 'one pass, then exit (default: loop until Ctrl-C)')
    .option('--concurrency <n>', 'servers checked at once (default servers.concurrency, 16)', intArg(1, 1024))
    .option('--timeout <dur>', 'overall time per server (default servers.timeout, 30s)', durationArg)
    .option('--interval <dur>', 'pause between passes without --once (default servers.interval, 10s)', durationArg)
    .option('--accept-new', 'record unknown SSH host keys instead of refusing (a changed key is still refused)')
    .option('--known-hosts <file>', 'known_hosts file (default ssh.known-hosts)')
    .option('--jump <user@host[:port]>', 'connect through this jump host (default ssh.jump)');
  act(listing(check), f, (o: CheckOptions) => o, runCheck);
  helpAfter(check, 'Examples:\n  labops servers check --once\n  LABOPS_METRICS_RETENTION=720h labops servers check\n\nExit (--once): 0 all up, 3 some down or unreachable, 4 login failed, 2 a row without address/user, 5 mixed.');
  return group;
}

async function runCheck(f: Factory, o: CheckOptions): Promise<Outcome[]> {
  const { checkServers } = await import('../../app/provision.js');
  if (o.once) {
    const result = await checkServers(f, o);
    if (f.io.json) f.io.printJson({ servers: result.servers, pruned: result.pruned });
    else await render(f, result.servers);
    return result.servers.map((r) => SERVER_OUTCOME[r.state]);
  }
  // Passes never overlap; each server check is bounded by its timeout, so a pass is too. SIGTERM (stop) ends
  // the loop after the pass in flight.
  while (!f.stop.aborted) {
    let intervalMs: number;
    try {
      const result = await checkServers(f, o);
      intervalMs = result.intervalMs;
      for (const r of result.servers) {
        if (f.io.json) f.io.out(JSON.stringify(r));
        else f.io.info(`server ${r.serverId} ${r.host ?? '-'}: ${r.state}${r.alertsOpened.length ? ` (alerts: ${r.alertsOpened.join(',')})` : ''}${r.alertsCleared.length ? ` (cleared: ${r.alertsCleared.join(',')})` : ''} ${r.message}`);
      }
    } catch (e) {
      const { UsageError } = await import('../../domain/errors.js');
      if (e instanceof UsageError) throw e;
      f.io.warn(`labops: ${(e as Error).message}`);
      intervalMs = (await f.config()).value('servers.interval');
    }
    await f.clock.sleep(o.interval ?? intervalMs, f.stop);
  }
  return [];
}

/** A server that did not answer is unreachable; a row without address or user is bad data. */
const SERVER_OUTCOME: Record<ServerResult['state'], Outcome> = { up: 'ok', down: 'unreachable', 'login-failed': 'auth', invalid: 'usage' };

async function render(f: Factory, rows: ServerResult[]): Promise<void> {
  const { renderTable } = await import('../io/render.js');
  const pct = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  renderTable<ServerResult>(
    f.io,
    [
      { header: 'SERVER', value: (r) => String(r.serverId) },
      { header: 'HOST', value: (r) => r.host ?? '-' },
      { header: 'STATE', value: (r) => r.state, pretty: (r, c) => (r.state === 'up' ? c.green : c.red)(r.state) },
      { header: 'SSHD', value: (r) => r.sshdStatus ?? '-' },
      { header: 'CPU%', value: (r) => pct(r.cpuUsage) },
      { header: 'MEM%', value: (r) => pct(r.memUsage) },
      { header: 'DISK%', value: (r) => pct(r.diskUsage) },
      { header: 'ALERTS', value: (r) => [...r.alertsOpened.map((a) => `+${a}`), ...r.alertsCleared.map((a) => `-${a}`)].join(',') || '-' },
      { header: 'DETAIL', flex: true, value: (r) => r.message },
    ],
    rows,
  );
}
