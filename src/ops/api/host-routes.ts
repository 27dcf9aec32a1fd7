// The host list the Lab Manager UI is built from (GET /api/hosts, HEAD-API §3.2), its reload, and the head
// worker's routes for features labops does not provide, which answer 501 with the feature they belong to.
import { latestHeartbeatStates, type HostStateRow } from '../../core/db/heartbeat-store.js';
import { credentialRefOf } from '../../core/config/winrm-store.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import { pyIso } from '../reservations/timeline.js';
import type { ApiResponse, OpsApiDeps } from './request.js';

/** The live state of a host from the store: its latest heartbeat as stored, never the raw document. */
function liveState(row: HostStateRow | undefined): Record<string, unknown> | null {
  if (!row || !row.timestampUtc) return null;
  return {
    heartbeatAt: pyIso(row.timestampUtc),
    lastPollAt: pyIso(row.lastPollAt),
    ready: row.ready,
    localMode: row.localMode,
    localSession: row.localSession,
    lastForcedLogoff: { timestamp: pyIso(row.lastForcedLogoffTs), user: row.lastForcedLogoffUser },
    lastPower: { timestamp: pyIso(row.lastPowerActionTs), mode: row.lastPowerActionMode },
  };
}

function hostEntry(deps: OpsApiDeps, h: InventoryHost, row: HostStateRow | undefined): Record<string, unknown> {
  return {
    name: h.name,
    address: h.address,
    credentialRef: credentialRefOf(h),
    mac: h.mac ?? null,
    mode: h.mode ?? null,
    labs: h.labs,
    winrmConfigured: deps.credentialsConfigured(h),
    // no Guacamole here: every host "missing", as the head worker answers without its database
    guacamole: { connections: [], status: 'missing' },
    state: liveState(row),
  };
}

/** The catalog in order, each host with whether WinRM credentials resolve and its live state; never a secret. */
export async function routeHosts(_req: unknown, deps: OpsApiDeps): Promise<ApiResponse> {
  const hosts = deps.index().hosts;
  let rows = new Map<string, HostStateRow>();
  if (deps.db) {
    try {
      rows = new Map((await latestHeartbeatStates(deps.db)).map((r) => [r.host.toLowerCase(), r]));
    } catch (e) {
      deps.log?.('warn', `GET /api/hosts: live state unavailable: ${(e as Error).message}`);
    }
  }
  return {
    status: 200,
    body: { guacamoleAvailable: false, guacamoleError: 'Guacamole database not configured', guacamoleUnmatched: [], hosts: hosts.map((h) => hostEntry(deps, h, rows.get(h.name.toLowerCase()))) },
  };
}

export async function routeReload(_req: unknown, deps: OpsApiDeps): Promise<ApiResponse> {
  try {
    return { status: 200, body: { hosts: await deps.reloadHosts(), reloaded: true } };
  } catch (e) {
    deps.log?.('error', `POST /api/hosts/reload: ${(e as Error).message}`);
    return { status: 500, body: { error: 'Hosts configuration reload failed' } };
  }
}

/** Upstream routes of features labops does not provide (HEAD-API §2, §3.3–3.5, §3.14–3.16). */
export const UNPROVIDED_ROUTES: readonly { match: RegExp; feature: string; error: string }[] = [
  { match: /^\/api\/hosts\/discover$/, feature: 'host-discovery', error: 'Host discovery from Guacamole connections is not provided by labops' },
  { match: /^\/api\/hosts\/provision$/, feature: 'host-provisioning', error: 'Host provisioning from Guacamole connections is not provided by labops; add the host to the inventory (OPS_CONFIG)' },
  {
    match: /^\/api\/hosts\/winrm-credentials$/,
    feature: 'winrm-credential-store',
    error: 'Saving WinRM credentials through the API is not provided by labops; it reads them from OPS_CREDENTIALS_PATH and the credentials file (LABOPS_CREDENTIALS)',
  },
  { match: /^\/api\/aas-sync$|^\/aas-admin\//, feature: 'aas-sync', error: 'AAS (BaSyx) synchronisation is not provided by labops' },
  { match: /^\/api\/power(\/|$)|^\/api\/labs\/[^/]+\/power\//, feature: 'power-control', error: 'Power controllers and power policies are not provided by labops' },
  { match: /^\/internal\/guacamole(\/|-token-revocations$)/, feature: 'guacamole', error: 'Guacamole provisioning and token revocation are not provided by labops' },
  { match: /^\/internal\/session-observations$/, feature: 'session-observations', error: 'Session observations are not provided by labops' },
];

export function unprovided(path: string): ApiResponse | undefined {
  const r = UNPROVIDED_ROUTES.find((u) => u.match.test(path));
  return r && { status: 501, body: { code: 'NOT_PROVIDED', error: r.error, feature: r.feature, success: false } };
}
