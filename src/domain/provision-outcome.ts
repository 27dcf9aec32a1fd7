import type { Outcome } from './outcome.js';

// How one provisioning or cleanup attempt maps onto lab_sessions (reference/cml/NOTES.md §2.2, §6),
// with the collector's traps fixed: auth failures are final instead of retried forever, unreachable
// hosts are retried with backoff, and a hung script is killed and reported as failed.

export type AttemptResult =
  | { kind: 'exited'; code: number; stderr: string }
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'unreachable'; message: string }
  | { kind: 'auth'; message: string }
  | { kind: 'hostkey'; message: string }
  | { kind: 'interrupted' }
  | { kind: 'invalid'; message: string };

export type ProvisionDecision =
  | { status: 'ACTIVE'; provisioned: 1 }
  | { status: 'FAILED'; reason: string; category: 'failed' | 'auth' | 'usage' }
  | { status: 'REQUESTED'; reason: string; backoff: boolean; category: 'unreachable' | 'interrupted' };

export function decideProvision(r: AttemptResult): ProvisionDecision {
  switch (r.kind) {
    case 'exited':
      return r.code === 0 ? { status: 'ACTIVE', provisioned: 1 } : { status: 'FAILED', reason: `provision script exited with code ${r.code}`, category: 'failed' };
    case 'timeout':
      return { status: 'FAILED', reason: `provision script timed out after ${Math.round(r.afterMs / 1000)}s and was killed`, category: 'failed' };
    case 'unreachable':
      return { status: 'REQUESTED', reason: `host unreachable: ${r.message}`, backoff: true, category: 'unreachable' };
    case 'auth':
      return { status: 'FAILED', reason: `SSH authentication failed: ${r.message}`, category: 'auth' };
    case 'hostkey':
      return { status: 'FAILED', reason: `SSH host key rejected: ${r.message}`, category: 'auth' };
    case 'interrupted':
      return { status: 'REQUESTED', reason: 'interrupted before the script finished; released for a later run', backoff: false, category: 'interrupted' };
    case 'invalid':
      return { status: 'FAILED', reason: r.message, category: 'usage' };
  }
}

export type CleanupDecision = { done: true } | { done: false; reason: string; category: 'failed' | 'unreachable' | 'auth' | 'usage' | 'interrupted' };

export function decideCleanup(r: AttemptResult): CleanupDecision {
  switch (r.kind) {
    case 'exited':
      return r.code === 0 ? { done: true } : { done: false, reason: `cleanup script exited with code ${r.code}`, category: 'failed' };
    case 'timeout':
      return { done: false, reason: `cleanup script timed out after ${Math.round(r.afterMs / 1000)}s and was killed`, category: 'failed' };
    case 'unreachable':
      return { done: false, reason: `host unreachable: ${r.message}`, category: 'unreachable' };
    case 'auth':
      return { done: false, reason: `SSH authentication failed: ${r.message}`, category: 'auth' };
    case 'hostkey':
      return { done: false, reason: `SSH host key rejected: ${r.message}`, category: 'auth' };
    case 'interrupted':
      return { done: false, reason: 'interrupted', category: 'interrupted' };
    case 'invalid':
      return { done: false, reason: r.message, category: 'usage' };
  }
}

/** Exit category of one session's attempt (an Outcome: see domain/outcome.ts for the rule over a pass). */
export type Category = Extract<Outcome, 'ok' | 'failed' | 'auth' | 'usage' | 'unreachable' | 'interrupted'>;

/** Where to run the script: upstream's bastion columns mean "run it on the bastion", not "hop through it". */
export interface TargetRow {
  ip_address: string | null;
  hostname?: string | null;
  ssh_user: string | null;
  ssh_password: string | null;
  ssh_port: number | null;
  bastion_host?: string | null;
  bastion_user?: string | null;
  bastion_password?: string | null;
}

export interface ResolvedTarget {
  host: string;
  port: number;
  username: string;
  password: string | null;
  viaBastion: boolean;
}

export function resolveTarget(row: TargetRow, defaultUser: string | undefined): ResolvedTarget | { error: string } {
  const bastion = row.bastion_host?.trim();
  const host = bastion || row.ip_address?.trim() || row.hostname?.trim();
  if (!host) return { error: 'no target host: the lab has no bastion_host and its server has no ip_address or hostname' };
  const username = (row.bastion_user?.trim() || row.ssh_user?.trim() || defaultUser || '').trim();
  if (!username) return { error: `no SSH user for ${host}: neither bastion_user nor servers.ssh_user is set` };
  const password = row.bastion_password || row.ssh_password || null;
  if (bastion) {
    // The bastion is reached on 22 as upstream did, unless the column says `host:port`.
    const m = /^([^:[\]]+|\[[^\]]+\]):(\d{1,5})$/.exec(bastion);
    if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), username, password, viaBastion: true };
    return { host, port: 22, username, password, viaBastion: true };
  }
  const port = row.ssh_port && row.ssh_port > 0 && row.ssh_port < 65536 ? row.ssh_port : 22;
  return { host, port, username, password, viaBastion: false };
}
