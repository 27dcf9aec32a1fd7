// labops reserve start | end | log | scan
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { intArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act, listing, looping } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { ReservationRunResult } from '../../ops/reservations/run.js';
import type { ScanItem, ScanResult } from '../../ops/reservations/scan.js';
import type { TimelineOperation } from '../../ops/reservations/timeline.js';
import type { ReservationLog } from '../../app/reserve.js';
import type { Column } from '../io/render.js';
import type { Step } from '../../domain/reservations/steps.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function reservationIdArg(v: string): string {
  const t = v.trim();
  if (!/^[\w:.-]{1,128}$/.test(t)) throw new InvalidArgumentError('expected a reservation id (the transaction hash, e.g. 0x3f1c…; letters, digits, _ : . -, at most 128)');
  return t;
}

interface StartFlags {
  host?: string;
  lab?: string;
  wake: boolean;
  prepare: boolean;
  prepareArg?: string[];
  guardGrace?: number;
  force?: boolean;
}

export interface StartCommand extends StartFlags {
  reservationId: string;
  force: boolean;
}

interface EndFlags {
  host?: string;
  lab?: string;
  release: boolean;
  releaseArg?: string[];
  power?: 'shutdown' | 'hibernate';
  powerArg?: string[];
  force?: boolean;
}

export interface EndCommand extends EndFlags {
  reservationId: string;
  force: boolean;
}

export interface ScanOptions {
  once: boolean;
  concurrency?: number;
  batch?: number;
}

const BETTER =
  'Better than the ops-worker: re-running a start (or end) whose steps already succeeded for this reservation does not repeat them (see `reserve log`) unless --force; ' +
  'the default release asks for a delayed reboot (release-session --reboot --reboot-timeout=<reservations.reboot-timeout, 15 s>), not the immediate /t 0 reboot of a bare --reboot that cuts off ' +
  'its own WinRM answer, and no reboot at all when --power follows; a release that exits 1 because the lab user had no session is not a failed end when the station\'s heartbeat shows nothing to release.';

export function registerReserve(parent: Command, f: Factory): Command {
  const reserve = parent
    .command('reserve')
    .summary('start and end lab reservations, show their journal, run the orchestrator')
    .description('Reservations on the Lab Gateway: wake and prepare a station for a reservation, release and power it down afterwards, with every step journaled in reservation_operations exactly as the ops-worker writes it.');

  const start = reserve
    .command('start')
    .description(
      'Wake the reservation\'s station (unless --no-wake) and, only if it came up, run LabStation.exe prepare-session with the --prepare-arg values or --guard-grace=<s> (default 90). ' +
        'The host is --host, else the host of --lab, else the host of the reservation\'s lab_id (lab_reservations) through the inventory\'s labs. ' +
        BETTER,
    )
    .argument('<reservationId>', 'the reservation (lab_reservations.transaction_hash)', reservationIdArg)
    .option('--host <host>', 'inventory host name')
    .option('--lab <labId>', 'lab id (recorded; picks the host when --host is not given)')
    .option('--no-wake', 'do not wake the station first')
    .option('--no-prepare', 'only wake the station')
    .option('--prepare-arg <arg>', 'a prepare-session argument (repeatable), e.g. --prepare-arg=--no-guard; replaces --guard-grace', collect)
    .option('--guard-grace <s>', 'seconds the session guard gives local users (default: reservations.guard-grace, 90)', intArg(30, 3600))
    .option('--force', 'run every step again even if it already succeeded for this reservation');
  act(listing(start), f, (reservationId: string, o: StartFlags): StartCommand => ({ reservationId, ...o, force: Boolean(o.force) }), runStart);
  helpAfter(
    start,
    'Examples:\n  labops reserve start 0x3f1c…8b7a --host lab-ws-01 --lab 1\n  labops reserve start 0x3f1c…8b7a            (host from lab_reservations.lab_id)\n  labops reserve start 0x3f1c…8b7a --host lab-ws-01 --no-wake --guard-grace 120\n\n' +
      'Exit: 0 prepared; 1 a step failed (LabStation exit code non-zero); 2 bad input, or the host has no MAC (journaled); 3 the station never woke or timed out; 4 WinRM credentials; 75 the database went away (nothing further run).',
  );

  const end = reserve
    .command('end')
    .description(
      'Run LabStation.exe release-session on the reservation\'s station, then, only if that succeeded, the --power action (power shutdown|hibernate with --power-arg values). Asks for confirmation (--yes without a terminal). ' +
        BETTER,
    )
    .argument('<reservationId>', 'the reservation (lab_reservations.transaction_hash)', reservationIdArg)
    .option('--host <host>', 'inventory host name')
    .option('--lab <labId>', 'lab id (recorded; picks the host when --host is not given)')
    .option('--no-release', 'skip release-session')
    .option('--release-arg <arg>', 'a release-session argument (repeatable), replacing the default (--reboot --reboot-timeout=15, or none with --power)', collect)
    .addOption(new Option('--power <mode>', 'power action after the release').choices(['shutdown', 'hibernate']))
    .option('--power-arg <arg>', 'a power argument (repeatable), e.g. --power-arg=--delay=60', collect)
    .option('--force', 'run every step again even if it already succeeded for this reservation');
  act(listing(end), f, (reservationId: string, o: EndFlags): EndCommand => ({ reservationId, ...o, force: Boolean(o.force) }), runEnd);
  helpAfter(
    end,
    'Examples:\n  labops reserve end 0x3f1c…8b7a --host lab-ws-01 --yes\n  labops reserve end 0x3f1c…8b7a --power shutdown --power-arg=--delay=60 --yes\n\n' +
      'Exit: 0 released; 1 a step failed; 2 bad input; 3 unreachable or timed out; 4 WinRM credentials; 75 the database went away.',
  );

  const log = looping(reserve.command('log'))
    .description('The reservation\'s timeline: the journal (every step, oldest first), the phases (last wake, prepare, release, power, scheduler end), the latest heartbeat of its host, and the forced logoffs linked to it. --json prints the /api/reservations/timeline shape plus forcedLogoffs.')
    .argument('<reservationId>', 'the reservation', reservationIdArg)
    .option('--limit <n>', 'journal rows (default 100)', intArg(1, 500))
    .option('--offset <n>', 'skip this many rows', intArg(0, 1_000_000_000))
    .option('--follow', 'then print new steps as they are journaled (NDJSON with --json), until the scheduler ends the reservation or Ctrl-C');
  act(listing(log), f, (reservationId: string, o: { limit?: number; offset?: number; follow?: boolean }): LogOptions => ({ reservationId, limit: o.limit ?? 100, offset: o.offset ?? 0, follow: Boolean(o.follow) }), runLog);
  helpAfter(log, 'Examples:\n  labops reserve log 0x3f1c…8b7a\n  labops reserve log 0x3f1c…8b7a --json | jq .phases\n  labops reserve log 0x3f1c…8b7a --follow\n\nExit: 0 shown (with --follow: the reservation ended, or SIGTERM); 2 unknown reservation; 130 Ctrl-C.');

  const scan = looping(reserve.command('scan'))
    .description(
      'The reservation orchestrator: find lab_reservations to start (CONFIRMED, starting within reservations.start-lead) and to end (CONFIRMED or ACTIVE, ended reservations.end-delay ago), map lab_id to a host through the inventory\'s labs, ' +
        'run start or end, record scheduler:start|end rows and move the status along the allowed transitions only (CONFIRMED→ACTIVE, CONFIRMED|ACTIVE→COMPLETED). ' +
        'Each reservation is claimed with one conditional UPDATE, so any number of instances on any number of machines never run the same start twice. Failures are retried with capped exponential backoff ' +
        '(reservations.backoff-base doubling up to reservations.backoff-max), not every 60 s forever. Without --once it loops every reservations.scan-interval until interrupted.',
    )
    .option('--once', 'one pass, then exit')
    .option('--concurrency <n>', 'reservations run at once (default: reservations.concurrency, 64)', intArg(1, 1024))
    .option('--batch <n>', 'reservations selected per pass (default: reservations.batch, 200)', intArg(1, 10_000));
  act(listing(scan), f, (o: { once?: boolean; concurrency?: number; batch?: number }): ScanOptions => ({ ...o, once: Boolean(o.once) }), runScan);
  helpAfter(scan, 'Examples:\n  labops reserve scan --once\n  labops --db mysql://ops:…@db/gateway reserve scan\n\nExit (--once): 0 nothing failed; 1 all failed; 5 some failed; 75 the database is unavailable.');
  return reserve;
}

/** The journal went away mid-run: nothing further ran; exit 75 after the steps that did. */
async function finishRun(f: Factory, r: ReservationRunResult): Promise<Outcome[]> {
  if (f.io.json) f.io.printJson(r.journal.error ? { ...r.body, journal: r.journal } : r.body);
  else await renderSteps(f, r.body.steps);
  if (r.journal.error) {
    if (!f.io.json) {
      f.io.error(`labops: ${r.journal.error}; ${r.journal.unrecorded.length} row(s) not journaled; nothing further was run`);
      f.io.error('hint: run the same command again when the database is back; steps that succeeded are not repeated once journaled');
    }
    return ['tempfail'];
  }
  if (r.body.success) return ['ok'];
  const kind = { config: 'usage', unreachable: 'unreachable', timeout: 'unreachable', auth: 'auth', failed: 'failed', interrupted: 'interrupted' } as const;
  return [kind[r.failure ?? 'failed']];
}

async function runStart(f: Factory, o: StartCommand): Promise<Outcome[]> {
  const reserve = await import('../../app/reserve.js');
  const target = await reserve.reservationHost(f, { reservationId: o.reservationId, host: o.host, lab: o.lab });
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `starting ${o.reservationId} on ${target.host.name}`);
  let r: ReservationRunResult;
  try {
    r = await reserve.startReservationOn(f, { reservationId: o.reservationId, ...target }, { wake: o.wake, prepare: o.prepare, prepareArgs: o.prepareArg, guardGrace: o.guardGrace, force: o.force });
  } finally {
    progress.stop();
  }
  return finishRun(f, r);
}

async function runEnd(f: Factory, o: EndCommand): Promise<Outcome[]> {
  const reserve = await import('../../app/reserve.js');
  const target = await reserve.reservationHost(f, { reservationId: o.reservationId, host: o.host, lab: o.lab });
  const power = o.power ? { mode: o.power, args: o.powerArg ?? [] } : undefined;
  const plan = await reserve.endPlan(f, { release: o.release, releaseArgs: o.releaseArg, power });
  if (!(await f.confirm(`${plan.summary} on ${target.host.name}`))) {
    f.io.error('cancelled; nothing was run');
    return ['failed'];
  }
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `ending ${o.reservationId} on ${target.host.name}`);
  let r: ReservationRunResult;
  try {
    r = await reserve.endReservationOn(f, { reservationId: o.reservationId, ...target }, { ...plan, force: o.force });
  } finally {
    progress.stop();
  }
  return finishRun(f, r);
}

async function renderSteps(f: Factory, steps: Step[]): Promise<void> {
  const { renderTable } = await import('../io/render.js');
  const code = (s: Step) => {
    const d = s.details as Record<string, unknown>;
    return typeof d.exitCode === 'number' ? `exit ${d.exitCode}` : s.action === 'wake' && typeof d.attemptsUsed === 'number' ? `${d.attemptsUsed}/${d.attemptsRequested} attempts` : '-';
  };
  const ms = (s: Step) => s.durationMs ?? ((s.details as Record<string, unknown>).durationMs as number | undefined);
  renderTable<Step>(
    f.io,
    [
      { header: 'STEP', value: (s) => s.action },
      { header: 'RESULT', value: (s) => s.status, pretty: (s, c) => (s.status === 'failed' ? c.red : s.status === 'skipped' ? c.yellow : c.green)(s.status) },
      { header: 'CODE', value: code },
      { header: 'TIME', value: (s) => (ms(s) === undefined ? '-' : (ms(s)! / 1000).toFixed(1)), pretty: (s) => (ms(s) === undefined ? '-' : `${(ms(s)! / 1000).toFixed(1)}s`) },
      { header: 'MESSAGE', flex: true, value: (s) => s.message },
    ],
    steps,
  );
}

export interface LogOptions {
  reservationId: string;
  limit: number;
  offset: number;
  follow: boolean;
}

const OP_COLUMNS: Column<TimelineOperation>[] = [
  { header: 'TIME', value: (r) => r.createdAt ?? '-' },
  { header: 'ACTION', value: (r) => r.action },
  { header: 'STATUS', value: (r) => r.status, pretty: (r, c) => (r.success ? c.green : c.red)(r.status) },
  { header: 'CODE', value: (r) => (r.responseCode === null ? '-' : String(r.responseCode)) },
  { header: 'MS', value: (r) => (r.durationMs === null ? '-' : String(r.durationMs)) },
  { header: 'MESSAGE', flex: true, value: (r) => r.message ?? '' },
];

async function runLog(f: Factory, o: LogOptions): Promise<void> {
  const { reservationLog, followJournal } = await import('../../app/reserve.js');
  const t = await reservationLog(f, o.reservationId, o);
  if (!o.follow) return printLog(f, t);
  const { renderTable } = await import('../io/render.js');
  if (f.io.json) for (const op of t.operations) f.io.out(JSON.stringify(op));
  else await printLog(f, t);
  // new steps, as they are journaled; the header was printed with the first rows
  f.io.noHeaders = true;
  await followJournal(f, o.reservationId, t.pagination.offset + t.operations.length, (ops) => {
    if (f.io.json) for (const op of ops) f.io.out(JSON.stringify(op));
    else renderTable(f.io, OP_COLUMNS, ops);
  });
}

async function printLog(f: Factory, t: ReservationLog): Promise<void> {
  if (f.io.json) return f.io.printJson(t);
  const { renderTable } = await import('../io/render.js');
  if (t.reservation) f.io.info(`reservation ${t.reservation.reservationId}  lab ${t.reservation.labId ?? '-'}  ${t.reservation.status}  ${t.reservation.start ?? '?'} → ${t.reservation.end ?? '?'}`);
  if (t.host) f.io.info(`host ${t.host.name}`);
  renderTable(f.io, OP_COLUMNS, t.operations);
  if (t.pagination.hasMore) f.io.info(`${t.pagination.total - t.pagination.nextOffset} more row(s): --offset ${t.pagination.nextOffset}`);
  if (t.heartbeat) {
    const yn = (v: boolean | null) => (v === null ? '-' : v ? 'yes' : 'no');
    f.io.info(`heartbeat ${t.heartbeat.timestamp}: ready ${yn(t.heartbeat.ready)}, local mode ${yn(t.heartbeat.localMode)}, local session ${yn(t.heartbeat.localSession)}, last power ${t.heartbeat.lastPower.mode ?? '-'} ${t.heartbeat.lastPower.timestamp ?? ''}`.trimEnd());
  } else f.io.info('heartbeat: none stored for this host');
  if (t.forcedLogoffs.length) {
    f.io.info('forced logoffs:');
    for (const l of t.forcedLogoffs) f.io.info(`  ${l.timestampUtc} ${l.host} user ${l.user ?? '?'} session ${l.sessionId ?? '?'} grace ${l.grace ?? '?'}s`);
  }
}

async function runScan(f: Factory, o: ScanOptions): Promise<Outcome[]> {
  const { scanPass, scanUntilStopped } = await import('../../app/reserve.js');
  if (!o.once) {
    // SIGTERM (systemd stop): stop claiming, finish what is in flight (main's signal policy).
    await scanUntilStopped(
      f,
      {
        onItem: (i) => (f.io.json ? f.io.out(JSON.stringify(i)) : f.io.out(scanLine(i))),
        onError: (e) => f.io.warn(`scan: ${(e as Error).message}`),
      },
      { flags: o, onStart: (instance, intervalMs) => f.io.info(`orchestrator ${instance}: scanning every ${intervalMs / 1000}s (Ctrl-C to stop)`) },
    );
    return [];
  }
  const r: ScanResult = await scanPass(f, o);
  r.items.sort((a, b) => a.msFromScan - b.msFromScan);
  if (f.io.json) f.io.printJson(r);
  else {
    const { renderTable } = await import('../io/render.js');
    renderTable<ScanItem>(
      f.io,
      [
        { header: 'RESERVATION', value: (i) => i.reservationId },
        { header: 'PHASE', value: (i) => i.phase },
        { header: 'HOST', value: (i) => i.host ?? '-' },
        { header: 'OUTCOME', value: (i) => i.outcome, pretty: (i, c) => (i.outcome === 'started' || i.outcome === 'ended' ? c.green : c.red)(i.outcome) },
        { header: 'STATUS', value: (i) => i.status },
        { header: 'MESSAGE', flex: true, value: (i) => i.message },
      ],
      r.items,
    );
    if (f.io.stdoutIsTTY) f.io.info(`${r.items.length} dispatched, ${r.taken} claimed by other instances`);
  }
  return r.items.map((i) => SCAN_OUTCOME[i.outcome]);
}

/** A reservation the orchestrator could not map to a host is bad data; a database error is "try again". */
const SCAN_OUTCOME: Record<ScanItem['outcome'], Outcome> = { started: 'ok', ended: 'ok', failed: 'failed', unmapped: 'usage', 'db-error': 'tempfail' };

function scanLine(i: ScanItem): string {
  return [i.reservationId, i.phase, i.host ?? '-', i.outcome, i.status, i.message].join('\t');
}
