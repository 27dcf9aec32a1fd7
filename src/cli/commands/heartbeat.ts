// labops heartbeat poll | show | alerts
import { Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { intArg, watchInterval } from '../args.js';
import { helpAfter } from '../help.js';
import { act, listing } from '../action.js';
import { UsageError } from '../../domain/errors.js';
import type { Outcome } from '../../domain/outcome.js';
import type { HostPollResult, PollResult } from '../../ops/heartbeat/poll.js';
import type { FleetRow, PollOptions } from '../../app/heartbeat.js';

export function registerHeartbeat(parent: Command, f: Factory): Command {
  const hb = parent.command('heartbeat').summary("read, store and watch Lab Station heartbeats").description("Read each station's heartbeat.json, store it as the ops-worker does, and evaluate alerts.");
  const poll = hb
    .command('poll')
    .description(
      "Read heartbeat.json (and session-guard-events.jsonl, and service-state.ini when the heartbeat lacks its operations block) from each host over WinRM or from a mounted share, " +
        'validate and store it: lab_hosts, lab_host_heartbeat (only when the heartbeat changed), lab_host_events (each event once), forced logoffs linked to reservations.',
    )
    .argument('[host...]', 'inventory host names')
    .option('--all', 'every inventory host (quarantined hosts excepted)')
    .addOption(new Option('--source <source>', 'where to read the files (default: the heartbeat.source setting, winrm)').choices(['winrm', 'file']))
    .option('--path <template>', 'file source path template with {host}, {address} or {winpath}')
    .option('--no-store', 'read and validate only; write nothing')
    .option('--events', 'also read session-guard-events.jsonl (default)', true)
    .option('--no-events', 'do not read the events file')
    .option('--concurrency <n>', 'hosts polled at once', intArg(1, 1024));
  act(listing(poll), f, (hosts: string[], o: Omit<PollOptions, 'hosts' | 'all'> & { all?: boolean }): PollOptions => ({ ...o, hosts, all: Boolean(o.all) }), runPoll);
  helpAfter(
    poll,
    'Examples:\n  labops heartbeat poll --all\n  labops heartbeat poll --all --source file --path \'/mnt/labstation/{host}/labstation/data/telemetry/heartbeat.json\'\n  labops heartbeat poll lab-ws-01 --no-store --json\n\n' +
      'Exit: 0 all read, 2 a file is not a heartbeat (one host), 3 unreachable, 4 credentials, 5 some hosts failed.',
  );
  const show = hb
    .command('show')
    .description('The latest stored state of each host: ready, local mode, local session, last heartbeat (relative on a terminal, ISO-8601 when piped), last prepare, power action and forced logoff, issues. With --events, the forced logoffs and the reservations they belong to.')
    .argument('[host...]', 'inventory host names (default: every inventory host and every host with a stored heartbeat)')
    .option('--events', 'list forced logoffs (session-guard evictions) linked to reservations')
    .option('--watch [interval]', 'redraw the table in place on the terminal every interval (default 2s), changed rows highlighted; q or Ctrl-C ends it');
  act(listing(show), f, (hosts: string[], o: { events?: boolean; watch?: string | boolean }): ShowOptions => ({ hosts, events: Boolean(o.events), watchMs: watchInterval(o.watch) }), runShow);
  const alerts = hb
    .command('alerts')
    .description(
      'Evaluate the alert rules now and list the open alerts: not ready for more than 2 minutes, heartbeat missing or unchanged for more than 3 intervals, a local session shortly before a reservation, ' +
        'local mode while reservations are pending, a forced logoff long before a reservation, wake/NIC and sleep/hibernate compliance. An alert is opened once, kept while its condition holds and ' +
        'resolved when it clears; the notify hook fires on open and resolve. Thresholds are the alerts.* settings.',
    );
  act(listing(alerts), f, () => ({}), runAlerts);
  helpAfter(alerts, 'Exit: 0 no open alert, 1 at least one alert is open (for monitoring and CI smoke checks).');
  return hb;
}

export async function runPoll(f: Factory, o: PollOptions): Promise<Outcome[]> {
  const [{ pollFleet }, { startProgress }] = await Promise.all([import('../../app/heartbeat.js'), import('../io/spinner.js')]);
  const progress = await startProgress(f.io, 'polling host(s)');
  let done = 0;
  let result: PollResult;
  try {
    result = await pollFleet(f, o, () => progress.update(`polling: ${++done} done`));
  } finally {
    progress.stop();
  }
  for (const h of result.hosts) for (const w of h.warnings) f.io.warn(`${h.host}: ${w}`);
  await renderPoll(f, result);
  return result.hosts.map((h) => (h.ok ? 'ok' : POLL_OUTCOME[h.error?.kind ?? 'error']));
}

/** A file that is not this station's heartbeat is bad input; a store failure is labops' own. */
const POLL_OUTCOME: Record<NonNullable<HostPollResult['error']>['kind'], Outcome> = {
  format: 'usage',
  'other-station': 'usage',
  missing: 'unreachable',
  unreachable: 'unreachable',
  auth: 'auth',
  store: 'failed',
  error: 'unreachable',
};

async function renderPoll(f: Factory, result: PollResult): Promise<void> {
  if (f.io.json) return f.io.printJson(result);
  const { renderTable } = await import('../io/render.js');
  const yn = (v: boolean | null) => (v === null ? '-' : v ? 'yes' : 'no');
  renderTable<HostPollResult>(
    f.io,
    [
      { header: 'HOST', value: (r) => r.host },
      { header: 'STATUS', value: (r) => (r.ok ? 'ok' : (r.error?.kind ?? 'error')), pretty: (r, c) => (r.ok ? c.green('ok') : c.red(r.error?.kind ?? 'error')) },
      { header: 'HEARTBEAT', value: (r) => r.timestamp ?? '-' },
      { header: 'READY', value: (r) => yn(r.ready) },
      { header: 'LOCAL MODE', value: (r) => yn(r.localMode) },
      { header: 'LOCAL SESSION', value: (r) => yn(r.localSession) },
      { header: 'STORED', value: (r) => (!r.ok ? '-' : r.heartbeatStored ? 'new' : 'unchanged') },
      { header: 'EVENTS', value: (r) => String(r.eventsStored) },
      { header: 'DETAIL', flex: true, value: (r) => r.error?.message ?? r.hostMismatch ?? '' },
    ],
    result.hosts,
  );
  // each host's error is in its DETAIL cell (--wide shows it whole); not again on stderr
}

export interface ShowOptions {
  hosts: string[];
  events: boolean;
  /** --watch: redraw every this many ms */
  watchMs?: number;
}

async function runShow(f: Factory, o: ShowOptions): Promise<void> {
  if (o.watchMs === undefined) return showOnce(f, o);
  if (f.io.json) throw new UsageError('--watch draws a table; it does not combine with --json');
  const { watchTable } = await import('../io/watch.js');
  await watchTable(f.io, f.signal, { intervalMs: o.watchMs, title: `labops heartbeat show${o.events ? ' --events' : ''}`, now: f.clock.now, sleep: f.clock.sleep }, (io) => showOnce({ ...f, io }, o));
}

async function showOnce(f: Factory, o: ShowOptions): Promise<void> {
  const hb = await import('../../app/heartbeat.js');
  const { renderTable, relativeTime } = await import('../io/render.js');
  const now = new Date(f.clock.now());
  const when = (iso: string | null, tty: boolean) => (iso === null ? '-' : tty ? relativeTime(new Date(iso), now) : iso);
  if (o.events) {
    const rows = await hb.forcedLogoffList(f, o.hosts);
    if (f.io.json) return f.io.printJson({ forcedLogoffs: rows });
    renderTable(
      f.io,
      [
        { header: 'HOST', value: (r: (typeof rows)[number]) => r.host },
        { header: 'WHEN', value: (r) => when(r.timestampUtc, false), pretty: (r) => when(r.timestampUtc, true) },
        { header: 'USER', value: (r) => r.user ?? '-' },
        { header: 'SESSION', value: (r) => r.sessionId ?? '-' },
        { header: 'GRACE', value: (r) => (r.grace === null ? '-' : `${r.grace}s`) },
        { header: 'RESERVATION', value: (r) => r.reservationId ?? '(none found)' },
        { header: 'MESSAGE', flex: true, value: (r) => r.message ?? '' },
      ],
      rows,
    );
    return;
  }
  const rows = await hb.fleetState(f, o.hosts);
  if (f.io.json) return f.io.printJson({ hosts: rows });
  const yn = (v: boolean | null) => (v === null ? '-' : v ? 'yes' : 'no');
  renderTable<FleetRow>(
    f.io,
    [
      { header: 'HOST', value: (r) => r.host },
      { header: 'READY', priority: 1, value: (r) => yn(r.ready), pretty: (r, c) => (r.ready === false ? c.red('no') : r.ready ? c.green('yes') : '-') },
      { header: 'LOCAL MODE', value: (r) => yn(r.localMode), pretty: (r, c) => (r.localMode ? c.yellow('yes') : yn(r.localMode)) },
      { header: 'LOCAL SESSION', value: (r) => yn(r.localSession), pretty: (r, c) => (r.localSession ? c.yellow('yes') : yn(r.localSession)) },
      { header: 'LAST HEARTBEAT', priority: 2, value: (r) => (r.reported ? when(r.timestampUtc, false) : 'never'), pretty: (r, c) => (r.reported ? when(r.timestampUtc, true) : c.yellow('never')) },
      { header: 'LAST PREPARE', value: (r) => when(r.lastPrepareTs, false), pretty: (r) => when(r.lastPrepareTs, true) },
      { header: 'LAST POWER', value: (r) => (r.lastPowerActionTs ? `${r.lastPowerActionMode ?? '?'} ${r.lastPowerActionTs}` : '-'), pretty: (r) => (r.lastPowerActionTs ? `${r.lastPowerActionMode ?? '?'} ${when(r.lastPowerActionTs, true)}` : '-') },
      { header: 'LAST FORCED LOGOFF', value: (r) => (r.lastForcedLogoffTs ? `${r.lastForcedLogoffUser ?? '?'} ${r.lastForcedLogoffTs}` : '-'), pretty: (r) => (r.lastForcedLogoffTs ? `${r.lastForcedLogoffUser ?? '?'} ${when(r.lastForcedLogoffTs, true)}` : '-') },
      { header: 'ISSUES', flex: true, priority: 3, value: (r) => r.issues.join('; ') },
    ],
    rows,
  );
}

async function runAlerts(f: Factory): Promise<Outcome[]> {
  const { evaluateAlerts } = await import('../../app/heartbeat.js');
  const result = await evaluateAlerts(f, undefined, { create: false });
  if (result.notifyError) f.io.warn(`notify hook: ${result.notifyError}`);
  if (f.io.json) f.io.printJson(result);
  else {
    const { renderTable, relativeTime } = await import('../io/render.js');
    const now = new Date(f.clock.now());
    renderTable(
      f.io,
      [
        { header: 'HOST', value: (r: (typeof result.open)[number]) => r.host },
        { header: 'RULE', value: (r) => r.rule },
        { header: 'SINCE', value: (r) => r.openedAt, pretty: (r) => relativeTime(new Date(r.openedAt), now) },
        { header: 'MESSAGE', flex: true, value: (r) => r.message },
      ],
      result.open,
    );
    if (f.io.stdoutIsTTY) f.io.info(result.open.length ? `${result.open.length} open alert(s); ${result.opened.length} opened, ${result.resolved.length} resolved now` : 'no open alerts');
  }
  // open alerts make the exit code 1, for monitoring and CI smoke checks
  return result.open.length ? ['failed'] : ['ok'];
}
