// Evaluates the alert rules over the store and applies the lifecycle; notifies on open and resolve.
import { evaluateAlerts, planAlerts, type AlertCondition, type AlertThresholds, type HostAlertInput, type OpenAlert } from '../../domain/heartbeat/alerts.js';
import { asBool, asNumber, toUtcIso } from '../../domain/heartbeat/normalize.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import type { Database } from '../../core/db/database.js';
import { latestHeartbeats } from '../../core/db/heartbeat-store.js';
import { applyAlertPlan, notReadySince, openAlerts, reservationsForLabs, type StoredAlert } from '../../core/db/alert-store.js';

export interface AlertNotifier {
  send(kind: string, events: readonly unknown[]): Promise<void>;
}

export interface AlertsResult {
  open: StoredAlert[];
  opened: AlertCondition[];
  resolved: OpenAlert[];
  notifyError: string | null;
}

/** What the alert rules read from the stored heartbeat document: compliance, and the heartbeat's own time. */
function fromRaw(raw: string | null): Pick<NonNullable<HostAlertInput['latest']>, 'nonCompliantNics' | 'armedCount' | 'sleepCompliant' | 'hibernateCompliant' | 'stationTimestamp'> {
  const empty = { nonCompliantNics: [], armedCount: null, sleepCompliant: null, hibernateCompliant: null, stationTimestamp: null };
  if (!raw) return empty;
  try {
    const d = JSON.parse(raw) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const status = d.status ?? {};
    const wake = status.wake ?? d.wake ?? {};
    const nics = Array.isArray(wake.nicNonCompliant) ? wake.nicNonCompliant : Array.isArray(wake.nicPower) ? wake.nicPower.filter((n: { wolReady?: unknown }) => asBool(n?.wolReady) === false) : [];
    return {
      nonCompliantNics: nics.map((n: { name?: unknown }) => String(n?.name ?? '?')),
      armedCount: asNumber(wake.armedCount),
      sleepCompliant: asBool(status.power?.sleepCompliant),
      hibernateCompliant: asBool(status.power?.hibernateCompliant),
      stationTimestamp: toUtcIso(d.timestamp ?? status.timestamp),
    };
  } catch {
    return empty;
  }
}

export async function evaluateAndStoreAlerts(
  db: Database,
  hosts: readonly InventoryHost[],
  thresholds: AlertThresholds,
  now: number,
  notifier?: AlertNotifier,
): Promise<AlertsResult> {
  const names = hosts.map((h) => h.name);
  const [latest, since, reservations, current] = await Promise.all([
    latestHeartbeats(db, names),
    notReadySince(db, names, now),
    reservationsForLabs(db, [...new Set(hosts.flatMap((h) => h.labs))], now, thresholds.localModeLookaheadMs),
    openAlerts(db),
  ]);
  const byName = new Map(latest.map((r) => [r.host.toLowerCase(), r]));
  const inputs: HostAlertInput[] = hosts.map((h) => {
    const row = byName.get(h.name.toLowerCase());
    return {
      host: h.name,
      latest: row && row.timestampUtc
        ? { timestampUtc: row.timestampUtc, ready: row.ready, localMode: row.localMode, localSession: row.localSession, lastForcedLogoffTs: row.lastForcedLogoffTs, ...fromRaw(row.rawJson) }
        : null,
      notReadySince: since.get(h.name) ?? null,
      reservations: h.labs.flatMap((l) => reservations.get(l) ?? []),
    };
  });
  const active = evaluateAlerts(inputs, now, thresholds);
  const plan = planAlerts(current.map((a) => ({ id: a.id, host: a.host, rule: a.rule, message: a.message })), active, names);
  const applied = await applyAlertPlan(db, plan, now);
  let notifyError: string | null = null;
  const events = [
    ...applied.opened.map((c) => ({ event: 'alert.opened', host: c.host, rule: c.rule, message: c.message, details: c.details, at: new Date(now).toISOString() })),
    ...applied.resolved.map((a) => ({ event: 'alert.resolved', host: a.host, rule: a.rule, message: a.message, at: new Date(now).toISOString() })),
  ];
  if (notifier && events.length) {
    try {
      await notifier.send('heartbeat.alerts', events);
    } catch (e) {
      notifyError = (e as Error).message;
    }
  }
  return { open: await openAlerts(db), opened: applied.opened, resolved: applied.resolved, notifyError };
}
