// The script argument contracts of the upstream workers (reference/cml/NOTES.md §2.2, §2.4). They
// conflict, so the contract is a setting; the default is the collector's.

export const CONTRACTS = ['collector', 'provision-worker'] as const;
export type Contract = (typeof CONTRACTS)[number];

export function parseContract(text: string): Contract | undefined {
  return (CONTRACTS as readonly string[]).includes(text) ? (text as Contract) : undefined;
}

export interface ScriptSession {
  username: string;
  namespace: string | null;
  /** access_expiry as epoch ms, for the provision worker's minutes argument */
  accessExpiryMs: number | null;
}

/** provision_worker: max(1, whole minutes until access_expiry), computed against UTC now. */
export function minutesLeft(accessExpiryMs: number | null, nowMs: number): number {
  if (accessExpiryMs === null) return 1;
  return Math.max(1, Math.floor((accessExpiryMs - nowMs) / 60_000));
}

/** The remote argv (not yet quoted) for a provision script. */
export function provisionArgv(contract: Contract, script: string, s: ScriptSession, nowMs: number): string[] {
  if (contract === 'provision-worker') return ['sudo', script, s.username, String(minutesLeft(s.accessExpiryMs, nowMs)), s.namespace ?? ''];
  return ['bash', script, s.username, s.namespace ?? ''];
}

/** The remote argv for a cleanup script: cleanup_worker passes only the user; the collector contract mirrors provisioning. */
export function cleanupArgv(contract: Contract, script: string, s: ScriptSession): string[] {
  if (contract === 'provision-worker') return ['sudo', script, s.username];
  return ['bash', script, s.username, s.namespace ?? ''];
}
