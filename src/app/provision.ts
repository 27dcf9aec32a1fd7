// labops provision sessions|cleanup, servers check, and the daemon's provisioning, cleanup and servers loops:
// the SSH runner and the collector repository from the configuration, the settings with the flags over them.
import type { AppContext } from './context.js';
import type { CollectorRepo, ServerRow } from '../core/db/repo-collector.js';
import type { CleanupOutcome } from '../ops/provisioning/cleanup.js';
import type { ProvisionPassResult, SessionOutcome } from '../ops/provisioning/sessions.js';
import type { ServerResult, ServersPassResult } from '../ops/provisioning/servers.js';
import { provisionSettings, serversSettings, type ProvisionFlags, type SshFlags } from './settings.js';
import { sshSession } from './clients.js';
import { instanceName } from './reserve.js';

export type Job = 'sessions' | 'cleanup';

async function collectorRepo(ctx: AppContext): Promise<CollectorRepo> {
  const [db, instance, { CollectorRepo }] = await Promise.all([ctx.database(), instanceName(ctx), import('../core/db/repo-collector.js')]);
  return new CollectorRepo(db.kysely, db.dialect, instance);
}

async function provisionSetup(ctx: AppContext, job: Job, flags: ProvisionFlags & SshFlags) {
  const [cfg, session, repo] = await Promise.all([ctx.config(), sshSession(ctx, sshOnly(flags)), collectorRepo(ctx)]);
  const settings = provisionSettings(cfg, job, flags);
  return { deps: { repo, ssh: session.ssh, now: ctx.clock.now }, config: { ...settings, auth: session.auth } };
}

const sshOnly = (f: SshFlags): SshFlags => ({ acceptNew: f.acceptNew, jump: f.jump, knownHosts: f.knownHosts });

/** One provisioning pass. SIGTERM (stop) ends claiming; the scripts in flight finish. */
export async function provisionPass(ctx: AppContext, flags: ProvisionFlags & SshFlags = {}): Promise<ProvisionPassResult> {
  const [{ deps, config }, { provisionOnce }] = await Promise.all([provisionSetup(ctx, 'sessions', flags), import('../ops/provisioning/sessions.js')]);
  return provisionOnce(deps, config, ctx.stop, undefined, ctx.signal);
}

export async function cleanupPass(ctx: AppContext, flags: ProvisionFlags & SshFlags = {}): Promise<{ sessions: CleanupOutcome[] }> {
  const [{ deps, config }, { cleanupOnce }] = await Promise.all([provisionSetup(ctx, 'cleanup', flags), import('../ops/provisioning/cleanup.js')]);
  return cleanupOnce(deps, config, ctx.stop, undefined, ctx.signal);
}

export interface LoopEvents {
  onResult(r: SessionOutcome | CleanupOutcome): void;
  onNotice(text: string): void;
  onError(e: unknown): void;
}

/** Provisions (or cleans up) until stopped; `sleep` is the daemon's jittered sleep or the clock's. */
export async function provisionUntilStopped(ctx: AppContext, job: Job, events: LoopEvents, o: { flags?: ProvisionFlags & SshFlags; sleep?: (ms: number, signal?: AbortSignal) => Promise<void>; onInterval?: (ms: number) => void } = {}): Promise<void> {
  const { deps, config } = await provisionSetup(ctx, job, o.flags ?? {});
  o.onInterval?.(config.intervalMs);
  const sleep = o.sleep ?? ctx.clock.sleep;
  if (job === 'sessions') {
    const { provisionLoop } = await import('../ops/provisioning/sessions.js');
    return provisionLoop(deps, config, sleep, ctx.stop, events, ctx.signal);
  }
  const { cleanupLoop } = await import('../ops/provisioning/cleanup.js');
  return cleanupLoop(deps, config, sleep, ctx.stop, events, ctx.signal);
}

export interface ServersOptions extends SshFlags {
  concurrency?: number;
  timeout?: number;
  interval?: number;
}

/**
 * One pass of server checks. `share` narrows the servers to this instance's shard (the daemon); the check
 * itself never changes.
 */
export async function checkServers(ctx: AppContext, o: ServersOptions = {}, share?: (rows: ServerRow[]) => ServerRow[]): Promise<ServersPassResult & { intervalMs: number }> {
  const [cfg, session, repo, { checkServersOnce }] = await Promise.all([ctx.config(), sshSession(ctx, sshOnly(o)), collectorRepo(ctx), import('../ops/provisioning/servers.js')]);
  const s = serversSettings(cfg, o);
  const r = await checkServersOnce({ repo, ssh: session.ssh, now: ctx.clock.now, share }, { ...s, auth: session.auth }, ctx.signal);
  return { ...r, intervalMs: s.intervalMs };
}

export type { ServerResult };
