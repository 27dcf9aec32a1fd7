// labops heartbeat poll | show | alerts
import { Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { intArg } from '../args.js';
import { helpAfter } from '../help.js';
import type { HostPollResult, PollResult } from '../../ops/heartbeat/poll.js';
import type { InventoryHost } from '../../core/config/inventory.js';

export interface PollOptions {
  hosts: string[];
  all: boolean;
  source?: 'winrm' | 'file';
  path?: string;
  store: boolean;
  events: boolean;
  concurrency?: number;
}

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
    .option('--concurrency <n>', 'hosts polled at once', intArg(1, 1024))
    .action((hosts: string[], o: Omit<PollOptions, 'hosts'>) => runPoll(f, { ...o, hosts, all: Boolean(o.all) }));
  helpAfter(
    poll,
    'Examples:\n  labops heartbeat poll --all\n  labops heartbeat poll --all --source file --path \'/mnt/labstation/{host}/labstation/data/telemetry/heartbeat.json\'\n  labops heartbeat poll lab-ws-01 --no-store --json\n\n' +
      'Exit: 0 all read, 2 a file is not a heartbeat (one host), 3 unreachable, 4 credentials, 5 some hosts failed.',
  );
  hb.command('show')
    .description('The latest stored state of each host: ready, local mode, local session, last heartbeat (relative on a terminal, ISO-8601 when piped), last prepare, power action and forced logoff, issues. With --events, the forced logoffs and the reservations they belong to.')
    .argument('[host...]', 'inventory host names (default: all stored hosts)')
    .option('--events', 'list forced logoffs (session-guard evictions) linked to reservations')
    .action((hosts: string[], o: { events?: boolean }) => runShow(f, hosts, Boolean(o.events)));
  const alerts = hb
    .command('alerts')
    .description(
      'Evaluate the alert rules now and list the open alerts: not ready for more than 2 minutes, heartbeat missing or unchanged for more than 3 intervals, a local session shortly before a reservation, ' +
        'local mode while reservations are pending, a forced logoff long before a reservation, wake/NIC and sleep/hibernate compliance. An alert is opened once, kept while its condition holds and ' +
        'resolved when it clears; the notify hook fires on open and resolve. Thresholds are the alerts.* settings.',
    )
    .action(() => runAlerts(f));
  helpAfter(alerts, 'Exit: 0 no open alert, 1 at least one alert is open (for monitoring and CI smoke checks).');
  return hb;
}

function selectHosts(index: { hosts: InventoryHost[]; find(n: string): InventoryHost | undefined }, names: string[], all: boolean, UsageError: new (m: string) => Error): InventoryHost[] {
  if (all && names.length) throw new UsageError('give host names or --all, not both');
  if (all) return index.hosts.filter((h) => !h.quarantined);
  if (!names.length) throw new UsageError('no host: name hosts or use --all');
  return names.map((n) => {
    const h = index.find(n);
    if (!h) throw new UsageError(`unknown host '${n}'`);
    return h;
  });
}

export async function runPoll(f: Factory, o: PollOptions): Promise<void> {
  const [cfg, index, { UsageError, Silent }, { pollHeartbeats }] = await Promise.all([f.config(), f.inventory(), import('../../domain/errors.js'), import('../../ops/heartbeat/poll.js')]);
  const hosts = selectHosts(index, o.hosts, o.all, UsageError);
  const sourceKind = o.source ?? (cfg.get('heartbeat.source') as 'winrm' | 'file');
  if (sourceKind !== 'winrm' && sourceKind !== 'file') throw new UsageError(`heartbeat.source must be winrm or file, not '${sourceKind}'`);
  const { createHeartbeatSource } = await import('../../core/heartbeat-sources.js');
  const source = await createHeartbeatSource(sourceKind, { template: o.path ?? cfg.get('heartbeat.path')!, cfg, timeoutMs: cfg.durationMs('heartbeat.timeout')!, env: f.env });
  let sink;
  if (o.store) {
    const db = await f.database();
    const [{ batchingHeartbeatSink, HEARTBEAT_STORE_TABLES }, { requireTables }] = await Promise.all([import('../../core/db/heartbeat-store.js'), import('../../core/db/migrations.js')]);
    // before any station is contacted
    await requireTables(db, HEARTBEAT_STORE_TABLES);
    sink = batchingHeartbeatSink(db);
  }
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `polling ${hosts.length} host(s)`);
  let done = 0;
  let result: PollResult;
  try {
    result = await pollHeartbeats(
      { hosts, allHosts: index.hosts, events: o.events, concurrency: o.concurrency ?? cfg.int('heartbeat.concurrency')! },
      { source, sink, now: f.clock.now },
      f.signal,
      () => progress.update(`polling ${hosts.length} host(s): ${++done} done`),
    );
  } finally {
    progress.stop();
    await source.close?.();
  }
  for (const h of result.hosts) for (const w of h.warnings) f.io.warn(`${h.host}: ${w}`);
  await renderPoll(f, result);
  if (f.signal.aborted || result.failed === 0) return;
  if (result.ok > 0) throw new Silent('partial');
  const kinds = new Set(result.hosts.map((h) => h.error?.kind));
  if (kinds.has('auth')) throw new Silent('auth');
  if ([...kinds].every((k) => k === 'format' || k === 'other-station')) throw new Silent('usage');
  throw new Silent(kinds.has('store') ? 'failed' : 'unreachable');
}

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
      { header: 'DETAIL', value: (r) => r.error?.message ?? r.hostMismatch ?? '' },
    ],
    result.hosts,
  );
  if (!f.io.stdoutIsTTY) return;
  for (const h of result.hosts) if (h.error) f.io.error(`${h.host}: ${h.error.message}`);
}

async function runShow(f: Factory, names: string[], events: boolean): Promise<void> {
  const db = await f.database({ create: false });
  const { latestHeartbeats, forcedLogoffs } = await import('../../core/db/heartbeat-store.js');
  const index = await f.inventory();
  const resolved = names.map((n) => index.find(n)?.name ?? n);
  const { renderTable, relativeTime } = await import('../io/render.js');
  const now = new Date(f.clock.now());
  const when = (iso: string | null, tty: boolean) => (iso === null ? '-' : tty ? relativeTime(new Date(iso), now) : iso);
  if (events) {
    const rows = await forcedLogoffs(db, { hosts: resolved, limit: 500 });
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
        { header: 'MESSAGE', value: (r) => r.message ?? '' },
      ],
      rows,
    );
    return;
  }
  const rows = (await latestHeartbeats(db, resolved)).map((r) => {
    let raw: Record<string, any> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      raw = r.rawJson ? JSON.parse(r.rawJson) : {};
    } catch {
      raw = {};
    }
    const ops = raw.operations ?? raw.status?.operations ?? {};
    const issues: string[] = Array.isArray(raw.summary?.issues) ? raw.summary.issues : [];
    if (r.reportedHost && r.reportedHost.toLowerCase() !== r.host.toLowerCase()) issues.push(`heartbeat names host ${r.reportedHost}`);
    return { ...r, lastPrepareTs: typeof ops.lastPrepareSession?.timestamp === 'string' ? new Date(ops.lastPrepareSession.timestamp).toISOString() : null, issues, rawJson: undefined };
  });
  if (f.io.json) return f.io.printJson({ hosts: rows });
  const yn = (v: boolean | null) => (v === null ? '-' : v ? 'yes' : 'no');
  renderTable(
    f.io,
    [
      { header: 'HOST', value: (r: (typeof rows)[number]) => r.host },
      { header: 'READY', value: (r) => yn(r.ready), pretty: (r, c) => (r.ready === false ? c.red('no') : r.ready ? c.green('yes') : '-') },
      { header: 'LOCAL MODE', value: (r) => yn(r.localMode), pretty: (r, c) => (r.localMode ? c.yellow('yes') : yn(r.localMode)) },
      { header: 'LOCAL SESSION', value: (r) => yn(r.localSession), pretty: (r, c) => (r.localSession ? c.yellow('yes') : yn(r.localSession)) },
      { header: 'LAST HEARTBEAT', value: (r) => when(r.timestampUtc, false), pretty: (r) => when(r.timestampUtc, true) },
      { header: 'LAST PREPARE', value: (r) => when(r.lastPrepareTs, false), pretty: (r) => when(r.lastPrepareTs, true) },
      { header: 'LAST POWER', value: (r) => (r.lastPowerActionTs ? `${r.lastPowerActionMode ?? '?'} ${r.lastPowerActionTs}` : '-'), pretty: (r) => (r.lastPowerActionTs ? `${r.lastPowerActionMode ?? '?'} ${when(r.lastPowerActionTs, true)}` : '-') },
      { header: 'LAST FORCED LOGOFF', value: (r) => (r.lastForcedLogoffTs ? `${r.lastForcedLogoffUser ?? '?'} ${r.lastForcedLogoffTs}` : '-'), pretty: (r) => (r.lastForcedLogoffTs ? `${r.lastForcedLogoffUser ?? '?'} ${when(r.lastForcedLogoffTs, true)}` : '-') },
      { header: 'ISSUES', value: (r) => r.issues.join('; ') },
    ],
    rows,
  );
}

async function runAlerts(f: Factory): Promise<void> {
  const [cfg, index, db] = await Promise.all([f.config(), f.inventory(), f.database({ create: false })]);
  const { evaluateAndStoreAlerts } = await import('../../ops/heartbeat/alerts.js');
  const { createNotifier, parseNotifyConfig } = await import('../../core/notify.js');
  const notifyCfg = parseNotifyConfig(cfg.raw, cfg.file);
  const notifier = notifyCfg ? createNotifier(notifyCfg, f.env) : undefined;
  const result = await evaluateAndStoreAlerts(
    db,
    index.hosts.filter((h) => !h.quarantined),
    {
      notReadyMs: cfg.durationMs('alerts.not-ready')!,
      localSessionLeadMs: cfg.durationMs('alerts.local-session-lead')!,
      localModeLookaheadMs: cfg.durationMs('alerts.local-mode-lookahead')!,
      staleEvictionMs: cfg.durationMs('alerts.stale-eviction')!,
      missingIntervals: cfg.int('alerts.missing-intervals')!,
      pollIntervalMs: cfg.durationMs('heartbeat.interval')!,
    },
    f.clock.now(),
    notifier,
  );
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
        { header: 'MESSAGE', value: (r) => r.message },
      ],
      result.open,
    );
    if (f.io.stdoutIsTTY) f.io.info(result.open.length ? `${result.open.length} open alert(s); ${result.opened.length} opened, ${result.resolved.length} resolved now` : 'no open alerts');
  }
  if (result.open.length) {
    const { Silent } = await import('../../domain/errors.js');
    throw new Silent('failed');
  }
}
