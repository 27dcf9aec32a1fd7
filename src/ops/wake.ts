// Wake-on-LAN with boot validation: resolve targets (all input checked before any packet), then per host
// send, wait, probe, with bounded concurrency. Returns typed per-host results; never prints.
import { didYouMean, someNames } from '../domain/closest-name.js';
import { UsageError } from '../domain/errors.js';
import { looksLikeMac, parseMac } from '../domain/mac.js';
import { mapPool } from '../domain/pool.js';
import { formatProbeSpec, type ProbeSpec } from '../domain/probe-spec.js';
import type { HostIndex, InventoryHost } from '../core/config/inventory.js';

export interface WakePorts {
  sendMagicPacket(t: { mac: string; address: string; port: number; repeat: number }): Promise<void>;
  probe(spec: ProbeSpec, host: string, timeoutMs: number, signal?: AbortSignal): Promise<{ up: boolean; reason?: string }>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  now(): number;
}

export interface WakeDefaults {
  broadcast: string;
  port: number;
  repeat: number;
  attempts: number;
  intervalMs: number;
  timeoutMs: number;
  concurrency: number;
  probe: ProbeSpec;
}

export interface WakeRequest {
  targets: string[];
  all: boolean;
  /** flag values; each wins over the inventory and the defaults */
  broadcast?: string;
  port?: number;
  repeat?: number;
  attempts?: number;
  intervalMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  probe?: ProbeSpec;
  noWait?: boolean;
}

export interface WakeTarget {
  host: string;
  mac?: string;
  pingTarget?: string;
  broadcast: string;
  port: number;
  attempts: number;
  probe: ProbeSpec;
  /** why this target cannot be woken (no MAC configured) */
  configError?: string;
}

export type WakeStatus = 'woke' | 'already-up' | 'no-response' | 'sent' | 'error' | 'aborted';

/** Per-host result. The camelCase fields match the ops-worker's wake step `details`. */
export interface WakeHostResult {
  host: string;
  status: WakeStatus;
  success: boolean;
  message: string;
  mac: string | null;
  pingTarget: string | null;
  attemptsRequested: number;
  attemptsUsed: number;
  waitSeconds: number;
  port: number;
  broadcast: string | null;
  probe: string;
  durationMs: number;
}

export interface WakeResult {
  hosts: WakeHostResult[];
  up: number;
  down: number;
}

export function resolveWakeTargets(req: WakeRequest, index: HostIndex, d: WakeDefaults): WakeTarget[] {
  if (req.all && req.targets.length) throw new UsageError('give host names or --all, not both');
  if (!req.all && req.targets.length === 0) throw new UsageError('no target: name hosts or MAC addresses, or use --all');
  const fromHost = (h: InventoryHost): WakeTarget => ({
    host: h.name,
    mac: h.mac,
    pingTarget: h.pingTarget ?? h.address,
    broadcast: req.broadcast ?? h.broadcast ?? d.broadcast,
    port: req.port ?? h.wolPort ?? d.port,
    attempts: req.attempts ?? h.wakeAttempts ?? d.attempts,
    probe: req.probe ?? h.probe ?? d.probe,
    configError: h.mac ? undefined : 'MAC address not configured',
  });
  if (req.all) {
    const hosts = index.hosts.filter((h) => !h.quarantined);
    if (hosts.length === 0) throw new UsageError('--all: the inventory has no hosts', { suggestion: 'pass --hosts <file> or set OPS_CONFIG' });
    return hosts.map(fromHost);
  }
  const out: WakeTarget[] = [];
  const seen = new Set<string>();
  for (const t of req.targets) {
    const host = index.find(t);
    if (host) {
      if (!host.mac) throw new UsageError(`host '${host.name}' has no MAC address in the inventory`);
      if (seen.has(host.name)) continue;
      seen.add(host.name);
      out.push(fromHost(host));
      continue;
    }
    const mac = parseMac(t);
    if (mac) {
      if (seen.has(mac)) continue;
      seen.add(mac);
      const known = index.hosts.find((h) => h.mac === mac);
      if (known) out.push(fromHost(known));
      else out.push({ host: mac, mac, broadcast: req.broadcast ?? d.broadcast, port: req.port ?? d.port, attempts: req.attempts ?? d.attempts, probe: req.probe ?? d.probe });
      continue;
    }
    if (looksLikeMac(t)) throw new UsageError(`invalid MAC address '${t}'`);
    throw new UsageError(`unknown host '${t}'${didYouMean(t, index.hosts.map((h) => h.name))}: not in the inventory and not a MAC address`, {
      suggestion: index.inventory.file ? `hosts come from ${index.inventory.file} (${someNames(index.hosts.map((h) => h.name))})` : 'pass --hosts <file> or set OPS_CONFIG',
    });
  }
  return out;
}

export async function wake(
  targets: WakeTarget[],
  opts: { repeat: number; intervalMs: number; timeoutMs: number; concurrency: number; noWait: boolean },
  ports: WakePorts,
  signal?: AbortSignal,
  onResult?: (r: WakeHostResult) => void,
): Promise<WakeResult> {
  const one = async (t: WakeTarget): Promise<WakeHostResult> => {
    const started = ports.now();
    const base = {
      host: t.host,
      mac: t.mac ?? null,
      pingTarget: t.pingTarget ?? null,
      attemptsRequested: t.attempts,
      waitSeconds: opts.intervalMs / 1000,
      port: t.port,
      broadcast: t.broadcast,
      probe: formatProbeSpec(t.probe),
    };
    const result = (status: WakeStatus, attemptsUsed: number, message: string): WakeHostResult => ({
      ...base,
      status,
      success: status === 'woke' || status === 'already-up' || status === 'sent',
      attemptsUsed,
      message,
      durationMs: Math.round(ports.now() - started),
    });
    if (t.configError || !t.mac) return result('error', 0, t.configError ?? 'MAC address not configured');
    const send = () => ports.sendMagicPacket({ mac: t.mac!, address: t.broadcast, port: t.port, repeat: opts.repeat });
    try {
      if (opts.noWait || !t.pingTarget) {
        await send();
        return result('sent', 1, opts.noWait ? 'Magic packet sent' : 'Magic packet sent (no address to probe)');
      }
      // A short look first, so a host that is already running is reported as such.
      const pre = await ports.probe(t.probe, t.pingTarget, Math.min(opts.timeoutMs, 1000), signal);
      if (pre.up) return result('already-up', 0, 'Host already reachable');
      for (let attempt = 1; attempt <= t.attempts; attempt++) {
        if (signal?.aborted) return result('aborted', attempt - 1, 'Interrupted');
        // Re-sent on every attempt: a packet lost while the NIC was still settling is not fatal.
        await send();
        await ports.sleep(opts.intervalMs, signal);
        if (signal?.aborted) return result('aborted', attempt, 'Interrupted');
        const p = await ports.probe(t.probe, t.pingTarget, opts.timeoutMs, signal);
        if (p.up) return result('woke', attempt, 'Host reachable');
      }
      return result('no-response', t.attempts, t.probe.kind === 'icmp' ? 'Host did not respond to ping' : `Host did not accept TCP on port ${t.probe.port}`);
    } catch (e) {
      return result('error', 0, (e as Error).message);
    }
  };
  const hosts = await mapPool(targets, opts.concurrency, async (t) => {
    const r = await one(t);
    onResult?.(r);
    return r;
  }, signal);
  const done = hosts.filter(Boolean);
  const up = done.filter((h) => h.success).length;
  return { hosts: done, up, down: done.length - up };
}
