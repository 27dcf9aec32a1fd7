// The real ports of a reservation run, built from the config: magic packets and probes (core/net), WinRM to the
// station (credentials from the inventory, the credentials file or the settings; never from a request), and the
// journal in the database. Shared by `labops reserve`, the orchestrator and the HTTP API.
import { TempFail } from '../../domain/errors.js';
import { wakeDefaultsFromConfig } from '../wake.js';
import type { LabopsConfig } from '../../core/config/load.js';
import type { Database } from '../../core/db/database.js';
import type { Clock } from '../../core/clock.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import type { ReservationPorts, ReservationSettings, StationClient } from './run.js';

export function reservationSettings(cfg: LabopsConfig): ReservationSettings {
  return {
    wake: wakeDefaultsFromConfig(cfg),
    commandTimeoutMs: cfg.durationMs('reservations.command-timeout')!,
    journalRetryMs: [500, 1000, 2000, 4000],
  };
}

/** Database errors while journaling are "try again later" (exit 75), with the cause in one line. */
export function databaseDown(e: unknown): TempFail {
  return new TempFail(`database unavailable: ${((e as Error).message ?? String(e)).split('\n')[0]}`, { suggestion: 'nothing further was run; run the same command again when the database is back' });
}

export async function reservationPorts(cfg: LabopsConfig, env: NodeJS.ProcessEnv, clock: Clock, db: Database | undefined): Promise<ReservationPorts> {
  const [{ sendMagicPacket }, { probe }, { credentialSources, winrmClientFor }, { parseHeartbeat }, store] = await Promise.all([
    import('../../core/net/magic-packet.js'),
    import('../../core/net/probe.js'),
    import('../../core/winrm/for-host.js'),
    import('../../domain/heartbeat/normalize.js'),
    import('../../core/db/reservation-store.js'),
  ]);
  const sources = credentialSources(cfg, env);
  const connect = (host: InventoryHost): StationClient => {
    const client = winrmClientFor(host, { timeoutMs: cfg.durationMs('reservations.command-timeout') }, sources);
    return {
      run: (exe, args, o) => client.runCommand(exe, args, o),
      readHeartbeat: async (signal) => parseHeartbeat(await client.readFileBytes(host.heartbeatPath, { signal, deadlineMs: 30_000 })).raw,
      close: () => client.close(),
    };
  };
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
