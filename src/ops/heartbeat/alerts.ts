// Evaluates the alert rules over the store and applies the lifecycle; notifies on open and resolve.
import { evaluateAlerts, planAlerts, type AlertCondition, type AlertThresholds, type HostAlertInput, type OpenAlert } from '../../domain/heartbeat/alerts.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import type { Database } from '../../core/db/database.js';
import { latestHeartbeatStates } from '../../core/db/heartbeat-store.js';
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

export async function evaluateAndStoreAlerts(
  db: Database,
  hosts: readonly InventoryHost[],
  thresholds: AlertThresholds,
  now: number,
  notifier?: AlertNotifier,
): Promise<AlertsResult> {
  const names = hosts.map((h) => h.name);
  const [latest, reservations, current] = await Promise.all([
    latestHeartbeatStates(db, names),
    reservationsForLabs(db, [...new Set(hosts.flatMap((h) => h.labs))], now, thresholds.localModeLookaheadMs),
    openAlerts(db),
  ]);
  const byName = new Map(latest.map((r) => [r.host.toLowerCase(), r]));
  // a heartbeat stored without a digest (by the ops-worker): its not-ready run is found in the history
  const undigested = latest.filter((r) => r.notReadySince === undefined && r.ready === false).map((r) => r.host);
  const since = await notReadySince(db, undigested, now);
  const inputs: HostAlertInput[] = hosts.map((h) => {
    const row = byName.get(h.name.toLowerCase());
    return {
      host: h.name,
      latest: row && row.timestampUtc ? row : null,
      notReadySince: row?.notReadySince ?? since.get(row?.host ?? h.name) ?? null,
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
