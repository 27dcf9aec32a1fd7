// Reservations: labops reserve start|end|log|scan, the daemon's orchestrator loop and the API's reservation
// endpoints are all assembled here: the station's ports (magic packets, probes, WinRM with the configured
// credentials, never a request's), the journal in the database, and the settings.
import type { AppContext } from './context.js';
import type { Database } from '../core/db/database.js';
import type { InventoryHost } from '../core/config/inventory.js';
import type { ReservationPorts, ReservationRunResult, ReservationSettings, StationClient } from '../ops/reservations/run.js';
import type { EndOptions, StartOptions } from '../domain/reservations/plan.js';
import type { ScanConfig, ScanDeps, ScanItem, ScanResult } from '../ops/reservations/scan.js';
import type { Timeline, TimelineOperation } from '../ops/reservations/timeline.js';
import type { ForcedLogoffRow } from '../core/db/heartbeat-store.js';
import { MissingTable, TempFail, UsageError } from '../domain/errors.js';
import { reservationSettings, scanSettings } from './settings.js';
import { winrmConnector } from './clients.js';

/** Database errors while journaling are "try again later" (exit 75), with the cause in one line. */
export function databaseDown(e: unknown): TempFail {
  return new TempFail(`database unavailable: ${((e as Error).message ?? String(e)).split('\n')[0]}`, { suggestion: 'nothing further was run; run the same command again when the database is back' });
}

/** The real ports of a reservation run; without a database nothing is journaled (the API on a store-less setup). */
export async function reservationPorts(ctx: AppContext, db: Database | undefined): Promise<ReservationPorts> {
  const [cfg, { sendMagicPacket }, { probe }, { parseHeartbeat }, store] = await Promise.all([
    ctx.config(),
    import('../core/net/magic-packet.js'),
    import('../core/net/probe.js'),
    import('../domain/heartbeat/normalize.js'),
    import('../core/db/reservation-store.js'),
  ]);
  const winrm = await winrmConnector(ctx, { timeoutMs: cfg.value('reservations.command-timeout') });
  const connect = (host: InventoryHost): StationClient => {
    const client = winrm(host);
    return {
      run: (exe, args, o) => client.runCommand(exe, args, o),
      readHeartbeat: async (signal) => parseHeartbeat(await client.readFileBytes(host.heartbeatPath, { signal, deadlineMs: 30_000 })).raw,
      close: () => client.close(),
    };
  };
  const { clock } = ctx;
  return {
    wake: { sendMagicPacket, probe, sleep: clock.sleep, now: clock.now },
    connect,
    now: clock.now,
    sleep: clock.sleep,
    journal: db
      ? {
          record: (row) => store.insertOperation(db, row, clock.now()),
          history: async (id) => {
            try {
              return (await store.operationsOf(db, id)).map((r) => ({ action: r.action, host: r.host, success: r.success, createdAt: r.createdAt }));
            } catch (e) {
              throw databaseDown(e);
            }
          },
        }
      : undefined,
  };
}

export interface ReservationTarget {
  reservationId: string;
  /** --host */
  host?: string;
  /** --lab */
  lab?: string;
}

/** The station of a reservation: --host, else the host of --lab, else of the reservation's lab_id through the inventory's labs. */
export async function reservationHost(ctx: AppContext, t: ReservationTarget): Promise<{ host: InventoryHost; labId: string | null }> {
  const index = await ctx.inventory();
  const hint = { suggestion: index.inventory.file ? `hosts come from ${index.inventory.file}` : 'pass --hosts <file> or set OPS_CONFIG' };
  const { findReservation } = await import('../core/db/reservation-store.js');
  // lab_reservations belongs to the auth service: a database without it still has the journal
  const booking = async () =>
    findReservation(await ctx.database(), t.reservationId).catch((e: unknown) => {
      if (e instanceof MissingTable && e.table === 'lab_reservations') return undefined;
      throw e;
    });
  if (t.host) {
    const host = index.find(t.host);
    if (!host) throw new UsageError(`unknown host '${t.host}'`, hint);
    // The journal records the reservation's lab when lab_reservations knows it.
    return { host, labId: t.lab ?? (await booking().catch(() => undefined))?.labId ?? null };
  }
  let labId = t.lab ?? null;
  if (!labId) {
    const r = await booking();
    if (!r) throw new UsageError(`unknown reservation '${t.reservationId}': not in lab_reservations; name the station with --host`);
    labId = r.labId;
  }
  const host = labId ? index.forLab(labId) : undefined;
  if (!host) throw new UsageError(`no host mapping for lab ${labId ?? '(none)'}: no inventory host lists it in "labs"`, hint);
  return { host, labId };
}

async function runContext(ctx: AppContext): Promise<{ ports: ReservationPorts; settings: ReservationSettings }> {
  const [cfg, db] = await Promise.all([ctx.config(), ctx.database()]);
  return { ports: await reservationPorts(ctx, db), settings: reservationSettings(cfg) };
}

export async function startReservationOn(ctx: AppContext, target: { reservationId: string; labId: string | null; host: InventoryHost }, o: Omit<StartOptions, 'guardGrace'> & { guardGrace?: number }): Promise<ReservationRunResult> {
  const [{ startReservation }, { ports, settings }, cfg] = await Promise.all([import('../ops/reservations/run.js'), runContext(ctx), ctx.config()]);
  return startReservation(target, { ...o, guardGrace: o.guardGrace ?? cfg.value('reservations.guard-grace') }, ports, settings, ctx.signal);
}

export async function endReservationOn(ctx: AppContext, target: { reservationId: string; labId: string | null; host: InventoryHost }, o: EndOptions): Promise<ReservationRunResult> {
  const [{ endReservation }, { ports, settings }] = await Promise.all([import('../ops/reservations/run.js'), runContext(ctx)]);
  return endReservation(target, o, ports, settings, ctx.signal);
}

/** What `reserve end` will run: the release (default arguments from the settings) and the power action. */
export async function endPlan(ctx: AppContext, o: { release: boolean; releaseArgs?: string[]; power?: EndOptions['power'] }): Promise<EndOptions & { summary: string }> {
  const [cfg, { defaultReleaseArgs }] = await Promise.all([ctx.config(), import('../domain/reservations/plan.js')]);
  const rebootTimeout = cfg.value('reservations.reboot-timeout');
  const releaseArgs = o.releaseArgs ?? defaultReleaseArgs({ power: o.power, rebootTimeout });
  const summary = [o.release ? `release-session ${releaseArgs.join(' ')}`.trim() : '', o.power ? `power ${o.power.mode}` : ''].filter(Boolean).join(' then ');
  if (!summary) throw new UsageError('nothing to do: --no-release without --power');
  return { release: o.release, releaseArgs: o.releaseArgs, power: o.power, rebootTimeout, force: false, summary };
}

export type ReservationLog = Timeline & { forcedLogoffs: ForcedLogoffRow[] };

export async function reservationLog(ctx: AppContext, reservationId: string, page: { limit: number; offset: number }): Promise<ReservationLog> {
  const [db, index, { reservationTimeline }] = await Promise.all([ctx.database({ create: false }), ctx.inventory(), import('../ops/reservations/timeline.js')]);
  const t = await reservationTimeline(db, index, { reservationId, limit: page.limit, offset: page.offset, phaseLookback: 500 });
  if (!t) throw new UsageError(`unknown reservation '${reservationId}': not in lab_reservations and no journal rows`);
  return t;
}

/**
 * The reservation's journal from row `seen` on, as rows are written, every 2 s until the scheduler ends the
 * reservation (its scheduler:end row) or the command is stopped.
 */
export async function followJournal(ctx: AppContext, reservationId: string, seen: number, onRows: (ops: TimelineOperation[]) => void): Promise<void> {
  let offset = seen;
  while (!ctx.stop.aborted) {
    await ctx.clock.sleep(2000, ctx.stop);
    if (ctx.stop.aborted) break;
    const t = await reservationLog(ctx, reservationId, { limit: 500, offset });
    if (!t.operations.length) continue;
    offset += t.operations.length;
    onRows(t.operations);
    if (t.operations.some((op) => op.action === 'scheduler:end')) break;
  }
}

/** Who claims reservations and shard leases: LABOPS_INSTANCE, else host:pid. */
export async function instanceName(ctx: AppContext): Promise<string> {
  const { hostname } = await import('node:os');
  return ctx.env.LABOPS_INSTANCE || `${hostname()}:${process.pid}`;
}

/** One orchestrator pass. SIGTERM (stop) ends claiming; what is in flight finishes. */
export async function scanPass(ctx: AppContext, flags: { concurrency?: number; batch?: number } = {}): Promise<ScanResult> {
  const [{ deps, config }, { scanOnce }] = await Promise.all([scanSetup(ctx, flags), import('../ops/reservations/scan.js')]);
  return scanOnce(deps, config, ctx.stop, undefined, ctx.signal);
}

/**
 * The orchestrator until stopped (SIGTERM: no new claims, in-flight starts and ends finish). `sleep` is the
 * daemon's jittered sleep, or the clock's.
 */
export async function scanUntilStopped(ctx: AppContext, events: { onItem(i: ScanItem): void; onError(e: unknown): void }, o: { flags?: { concurrency?: number; batch?: number }; sleep?: (ms: number, signal?: AbortSignal) => Promise<void>; onStart?: (instance: string, intervalMs: number) => void } = {}): Promise<void> {
  const [{ deps, config }, { scanLoop }] = await Promise.all([scanSetup(ctx, o.flags), import('../ops/reservations/scan.js')]);
  o.onStart?.(deps.instance, config.intervalMs);
  await scanLoop(o.sleep ? { ...deps, ports: { ...deps.ports, sleep: o.sleep } } : deps, config, ctx.stop, events, ctx.signal);
}

/** The orchestrator's dependencies and settings, for `reserve scan` and the daemon's reservations loop. */
export async function scanSetup(ctx: AppContext, flags: { concurrency?: number; batch?: number } = {}): Promise<{ deps: ScanDeps; config: ScanConfig & { intervalMs: number } }> {
  const [cfg, index, db, instance] = await Promise.all([ctx.config(), ctx.inventory(), ctx.database(), instanceName(ctx)]);
  return { deps: { db, index, ports: await reservationPorts(ctx, db), settings: reservationSettings(cfg), instance }, config: scanSettings(cfg, flags) };
}
