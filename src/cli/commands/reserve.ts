// labops reserve start | end | log | scan
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { intArg } from '../args.js';
import { helpAfter } from '../help.js';
import type { ReservationRunResult } from '../../ops/reservations/run.js';
import type { ScanItem, ScanResult } from '../../ops/reservations/scan.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import type { Step } from '../../domain/reservations/steps.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function reservationIdArg(v: string): string {
  const t = v.trim();
  if (!/^[\w:.-]{1,128}$/.test(t)) throw new InvalidArgumentError('expected a reservation id (the transaction hash, e.g. 0x3f1c…; letters, digits, _ : . -, at most 128)');
  return t;
}

export interface StartOptions {
  host?: string;
  lab?: string;
  wake: boolean;
  prepare: boolean;
  prepareArg?: string[];
  guardGrace?: number;
  force?: boolean;
}

export interface EndOptions {
  host?: string;
  lab?: string;
  release: boolean;
  releaseArg?: string[];
  power?: 'shutdown' | 'hibernate';
  powerArg?: string[];
  force?: boolean;
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
    .option('--force', 'run every step again even if it already succeeded for this reservation')
    .action((id: string, o: StartOptions) => runStart(f, id, o));
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
    .option('--force', 'run every step again even if it already succeeded for this reservation')
    .action((id: string, o: EndOptions) => runEnd(f, id, o));
  helpAfter(
    end,
    'Examples:\n  labops reserve end 0x3f1c…8b7a --host lab-ws-01 --yes\n  labops reserve end 0x3f1c…8b7a --power shutdown --power-arg=--delay=60 --yes\n\n' +
      'Exit: 0 released; 1 a step failed; 2 bad input; 3 unreachable or timed out; 4 WinRM credentials; 75 the database went away.',
  );

  const log = reserve
    .command('log')
    .description('The reservation\'s timeline: the journal (every step, oldest first), the phases (last wake, prepare, release, power, scheduler end), the latest heartbeat of its host, and the forced logoffs linked to it. --json prints the /api/reservations/timeline shape plus forcedLogoffs.')
    .argument('<reservationId>', 'the reservation', reservationIdArg)
    .option('--limit <n>', 'journal rows (default 100)', intArg(1, 500))
    .option('--offset <n>', 'skip this many rows', intArg(0, 1_000_000_000))
    .action((id: string, o: { limit?: number; offset?: number }) => runLog(f, id, o));
  helpAfter(log, 'Examples:\n  labops reserve log 0x3f1c…8b7a\n  labops reserve log 0x3f1c…8b7a --json | jq .phases\n\nExit: 0 shown; 2 unknown reservation.');

  const scan = reserve
    .command('scan')
    .description(
      'The reservation orchestrator: find lab_reservations to start (CONFIRMED, starting within reservations.start-lead) and to end (CONFIRMED or ACTIVE, ended reservations.end-delay ago), map lab_id to a host through the inventory\'s labs, ' +
        'run start or end, record scheduler:start|end rows and move the status along the allowed transitions only (CONFIRMED→ACTIVE, CONFIRMED|ACTIVE→COMPLETED). ' +
        'Each reservation is claimed with one conditional UPDATE, so any number of instances on any number of machines never run the same start twice. Failures are retried with capped exponential backoff ' +
        '(reservations.backoff-base doubling up to reservations.backoff-max), not every 60 s forever. Without --once it loops every reservations.scan-interval until interrupted.',
    )
    .option('--once', 'one pass, then exit')
    .option('--concurrency <n>', 'reservations run at once (default: reservations.concurrency, 64)', intArg(1, 1024))
    .option('--batch <n>', 'reservations selected per pass (default: reservations.batch, 200)', intArg(1, 10_000))
    .action((o: { once?: boolean; concurrency?: number; batch?: number }) => runScan(f, o));
  helpAfter(scan, 'Examples:\n  labops reserve scan --once\n  labops --db mysql://ops:…@db/gateway reserve scan\n\nExit (--once): 0 nothing failed; 1 all failed; 5 some failed; 75 the database is unavailable.');
  return reserve;
}

async function resolveHost(f: Factory, id: string, o: { host?: string; lab?: string }): Promise<{ host: InventoryHost; labId: string | null }> {
  const [index, { UsageError, MissingTable }] = await Promise.all([f.inventory(), import('../../domain/errors.js')]);
  const hint = { suggestion: index.inventory.file ? `hosts come from ${index.inventory.file}` : 'pass --hosts <file> or set OPS_CONFIG' };
  if (o.host) {
    const host = index.find(o.host);
    if (!host) throw new UsageError(`unknown host '${o.host}'`, hint);
    if (o.lab) return { host, labId: o.lab };
    // The journal records the reservation's lab when lab_reservations knows it.
    const db = await f.database();
    const { findReservation } = await import('../../core/db/reservation-store.js');
    const r = await findReservation(db, id).catch(() => undefined);
    return { host, labId: r?.labId ?? null };
  }
  let labId = o.lab ?? null;
  if (!labId) {
    const db = await f.database();
    const { findReservation } = await import('../../core/db/reservation-store.js');
    const r = await findReservation(db, id).catch((e: unknown) => {
      if (e instanceof MissingTable && e.table === 'lab_reservations') return undefined;
      throw e;
    });
    if (!r) throw new UsageError(`unknown reservation '${id}': not in lab_reservations; name the station with --host`);
    labId = r.labId;
  }
  const host = labId ? index.forLab(labId) : undefined;
  if (!host) throw new UsageError(`no host mapping for lab ${labId ?? '(none)'}: no inventory host lists it in "labs"`, hint);
  return { host, labId };
}

async function context(f: Factory) {
  const cfg = await f.config();
  const db = await f.database();
  const [{ reservationPorts, reservationSettings }] = await Promise.all([import('../../ops/reservations/deps.js')]);
  return { cfg, db, ports: await reservationPorts(cfg, f.env, f.clock, db), settings: reservationSettings(cfg) };
}

async function finishRun(f: Factory, r: ReservationRunResult): Promise<void> {
  const { Silent, TempFail } = await import('../../domain/errors.js');
  if (f.io.json) f.io.printJson(r.journal.error ? { ...r.body, journal: r.journal } : r.body);
  else await renderSteps(f, r.body.steps);
  if (r.journal.error) {
    if (!f.io.json) f.io.error(`labops: ${r.journal.error}; ${r.journal.unrecorded.length} row(s) not journaled`);
    throw f.io.json ? new Silent('tempfail') : new TempFail('nothing further was run', { suggestion: 'run the same command again when the database is back; steps that succeeded are not repeated once journaled' });
  }
  if (f.signal.aborted || r.body.success) return;
  const kind = { config: 'usage', unreachable: 'unreachable', timeout: 'unreachable', auth: 'auth', failed: 'failed', interrupted: 'interrupted' } as const;
  throw new Silent(kind[r.failure ?? 'failed']);
}

async function runStart(f: Factory, id: string, o: StartOptions): Promise<void> {
  const { host, labId } = await resolveHost(f, id, o);
  const c = await context(f);
  const { startReservation } = await import('../../ops/reservations/run.js');
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `starting ${id} on ${host.name}`);
  let r: ReservationRunResult;
  try {
    r = await startReservation(
      { reservationId: id, labId, host },
      { wake: o.wake, prepare: o.prepare, prepareArgs: o.prepareArg, guardGrace: o.guardGrace ?? c.cfg.int('reservations.guard-grace')!, force: Boolean(o.force) },
      c.ports,
      c.settings,
      f.signal,
    );
  } finally {
    progress.stop();
  }
  await finishRun(f, r);
}

async function runEnd(f: Factory, id: string, o: EndOptions): Promise<void> {
  const { host, labId } = await resolveHost(f, id, o);
  const c = await context(f);
  const { endReservation } = await import('../../ops/reservations/run.js');
  const { defaultReleaseArgs } = await import('../../domain/reservations/plan.js');
  const rebootTimeout = c.cfg.int('reservations.reboot-timeout')!;
  const power = o.power ? { mode: o.power, args: o.powerArg ?? [] } : undefined;
  const releaseArgs = o.releaseArg ?? defaultReleaseArgs({ power, rebootTimeout });
  const what = [o.release ? `release-session ${releaseArgs.join(' ')}`.trim() : '', power ? `power ${power.mode}` : ''].filter(Boolean).join(' then ');
  if (!what) {
    const { UsageError } = await import('../../domain/errors.js');
    throw new UsageError('nothing to do: --no-release without --power');
  }
  if (!(await f.confirm(`${what} on ${host.name}`))) {
    const { Silent } = await import('../../domain/errors.js');
    f.io.error('cancelled; nothing was run');
    throw new Silent('failed');
  }
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `ending ${id} on ${host.name}`);
  let r: ReservationRunResult;
  try {
    r = await endReservation({ reservationId: id, labId, host }, { release: o.release, releaseArgs: o.releaseArg, power, rebootTimeout, force: Boolean(o.force) }, c.ports, c.settings, f.signal);
  } finally {
    progress.stop();
  }
  await finishRun(f, r);
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
      { header: 'MESSAGE', value: (s) => s.message },
    ],
    steps,
  );
}

async function runLog(f: Factory, id: string, o: { limit?: number; offset?: number }): Promise<void> {
  const [db, index, { reservationTimeline }, { UsageError }] = await Promise.all([f.database({ create: false }), f.inventory(), import('../../ops/reservations/timeline.js'), import('../../domain/errors.js')]);
  const t = await reservationTimeline(db, index, { reservationId: id, limit: o.limit ?? 100, offset: o.offset ?? 0, phaseLookback: 500 });
  if (!t) throw new UsageError(`unknown reservation '${id}': not in lab_reservations and no journal rows`);
  if (f.io.json) return f.io.printJson(t);
  const { renderTable } = await import('../io/render.js');
  if (t.reservation) f.io.info(`reservation ${t.reservation.reservationId}  lab ${t.reservation.labId ?? '-'}  ${t.reservation.status}  ${t.reservation.start ?? '?'} → ${t.reservation.end ?? '?'}`);
  if (t.host) f.io.info(`host ${t.host.name}`);
  type Op = (typeof t.operations)[number];
  renderTable<Op>(
    f.io,
    [
      { header: 'TIME', value: (r) => r.createdAt ?? '-' },
      { header: 'ACTION', value: (r) => r.action },
      { header: 'STATUS', value: (r) => r.status, pretty: (r, c) => (r.success ? c.green : c.red)(r.status) },
      { header: 'CODE', value: (r) => (r.responseCode === null ? '-' : String(r.responseCode)) },
      { header: 'MS', value: (r) => (r.durationMs === null ? '-' : String(r.durationMs)) },
      { header: 'MESSAGE', value: (r) => r.message ?? '' },
    ],
    t.operations,
  );
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

function instanceId(env: NodeJS.ProcessEnv, hostname: string, pid: number): string {
  return env.LABOPS_INSTANCE || `${hostname}:${pid}`;
}

export async function scanSetup(f: Factory, o: { concurrency?: number; batch?: number }) {
  const [c, index, { hostname }] = await Promise.all([context(f), f.inventory(), import('node:os')]);
  const { cfg } = c;
  const config = {
    startLeadMs: cfg.durationMs('reservations.start-lead')!,
    endDelayMs: cfg.durationMs('reservations.end-delay')!,
    lookbackMs: cfg.durationMs('reservations.lookback')!,
    batch: o.batch ?? cfg.int('reservations.batch')!,
    concurrency: o.concurrency ?? cfg.int('reservations.concurrency')!,
    leaseMs: cfg.durationMs('reservations.lease')!,
    backoff: { baseMs: cfg.durationMs('reservations.backoff-base')!, maxMs: cfg.durationMs('reservations.backoff-max')! },
    guardGrace: cfg.int('reservations.guard-grace')!,
    rebootTimeout: cfg.int('reservations.reboot-timeout')!,
    intervalMs: cfg.durationMs('reservations.scan-interval')!,
  };
  const deps = { db: c.db, index, ports: c.ports, settings: c.settings, instance: instanceId(f.env, hostname(), process.pid) };
  return { deps, config };
}

async function runScan(f: Factory, o: { once?: boolean; concurrency?: number; batch?: number }): Promise<void> {
  const { deps, config } = await scanSetup(f, o);
  const { scanOnce, scanLoop } = await import('../../ops/reservations/scan.js');
  const { Silent } = await import('../../domain/errors.js');
  if (!o.once) {
    f.io.info(`orchestrator ${deps.instance}: scanning every ${config.intervalMs / 1000}s (Ctrl-C to stop)`);
    // SIGTERM (systemd stop) like Ctrl-C: stop claiming, finish what is in flight.
    const stop = new AbortController();
    const onTerm = () => stop.abort();
    process.once('SIGTERM', onTerm);
    f.signal.addEventListener('abort', onTerm, { once: true });
    await scanLoop(deps, config, stop.signal, {
      onItem: (i) => (f.io.json ? f.io.out(JSON.stringify(i)) : f.io.out(scanLine(i))),
      onError: (e) => f.io.warn(`scan: ${(e as Error).message}`),
    });
    process.removeListener('SIGTERM', onTerm);
    return;
  }
  const r: ScanResult = await scanOnce(deps, config, f.signal);
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
        { header: 'MESSAGE', value: (i) => i.message },
      ],
      r.items,
    );
    if (f.io.stdoutIsTTY) f.io.info(`${r.items.length} dispatched, ${r.taken} claimed by other instances`);
  }
  const bad = r.items.filter((i) => i.outcome !== 'started' && i.outcome !== 'ended');
  if (bad.some((i) => i.outcome === 'db-error')) throw new Silent('tempfail');
  if (bad.length === 0) return;
  throw new Silent(bad.length === r.items.length ? 'failed' : 'partial');
}

function scanLine(i: ScanItem): string {
  return [i.reservationId, i.phase, i.host ?? '-', i.outcome, i.status, i.message].join('\t');
}
