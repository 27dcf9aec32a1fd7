// The routes that act on one station: POST /api/wol, /api/winrm, /api/heartbeat/poll and /api/hosts/local-mode
// (reference HEAD-API §3.6–3.10). /api/winrm takes the head worker's commands and fields with its validation, but
// a request that breaks the WinRM policy is a 400 with the reason (upstream: a generic 500), and the arguments
// reach LabStation.exe quoted (upstream joined them with spaces: injection).
import { argumentProblem } from '../../domain/winrs-command-line.js';
import { isIP } from 'node:net';
import { parseMac } from '../../domain/mac.js';
import { localModeScript } from './local-mode.js';
import type { InventoryHost } from '../../core/config/inventory.js';
import { wake, type WakeTarget } from '../wake.js';
import { pollHeartbeats, type HeartbeatSink } from '../heartbeat/poll.js';
import { guardGraceOf } from '../reservations/run.js';
import { BadRequest, argList, err, flag, jsonBody, num, str, type ApiRequest, type ApiResponse, type OpsApiDeps } from './request.js';

/** Host names and addresses only: DNS labels (letters, digits, hyphens) or an IP (the head worker's rule). */
export function validPingTarget(t: string): boolean {
  if (isIP(t)) return true;
  if (t.length > 253) return false;
  return t.split('.').every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

export async function routeWol(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  const host = str(body.host) ? deps.index().find(str(body.host)!) : undefined;
  const macText = str(body.mac) ?? host?.mac;
  if (!macText) return err(400, 'mac is required');
  const mac = parseMac(macText);
  if (!mac) return err(400, 'mac is invalid');
  const pingTarget = str(body.ping_target) ?? host?.pingTarget ?? host?.address ?? (str(body.host) && !host ? str(body.host) : undefined);
  if (!pingTarget) return err(400, 'ping_target or host address is required');
  if (!validPingTarget(pingTarget)) return err(400, 'ping_target is invalid');
  const broadcast = str(body.broadcast);
  if (broadcast && !isIP(broadcast)) return err(400, 'broadcast is invalid');
  const d = deps.settings.wake;
  const port = num(body.port, 'port', 1, 65535) ?? host?.wolPort ?? d.port;
  const attempts = num(body.attempts, 'attempts', 1, 20) ?? 3;
  const timeout = num(body.ping_timeout, 'ping_timeout', 0.05, 120);
  const intervalMs = timeout !== undefined ? Math.round(timeout * 1000) : d.intervalMs;
  const target: WakeTarget = { host: host?.name ?? pingTarget, mac, pingTarget, broadcast: broadcast ?? host?.broadcast ?? d.broadcast, port, attempts: Math.round(attempts), probe: host?.probe ?? d.probe };
  const r = await wake([target], { repeat: d.repeat, intervalMs, timeoutMs: timeout !== undefined ? intervalMs : d.timeoutMs, concurrency: 1, noWait: false }, deps.ports.wake, deps.signal);
  const h = r.hosts[0]!;
  if (h.status === 'error') throw new Error(h.message);
  return { status: 200, body: { attempts_used: h.success ? Math.max(1, h.attemptsUsed) : h.attemptsUsed, duration_ms: h.durationMs, ping_target: pingTarget, success: h.success } };
}

/** A bool, a number, or true/1/yes/on and false/0/no/off; undefined for anything else. */
function boolOf(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v !== 'string') return undefined;
  if (/^(true|1|yes|on)$/i.test(v.trim())) return true;
  return /^(false|0|no|off)$/i.test(v.trim()) ? false : undefined;
}

const MISMATCH = (what: string) => new BadRequest(`request ${what} does not match the host WinRM policy`);
const given = (v: unknown) => v !== undefined && v !== null && v !== '';

/** The host's own WinRM endpoint, as labops connects to it. */
function hostPolicy(h: InventoryHost): { ssl: boolean; port: number; transport: string } {
  const ssl = h.winrmUseSsl ?? h.winrmPort === 5986;
  return { ssl, port: h.winrmPort ?? (ssl ? 5986 : 5985), transport: h.winrmTransport.toLowerCase() };
}

/**
 * The head worker's request rules (HEAD-API §5.2): `transport`, `use_ssl` and `port` may only restate the host's
 * policy, and the transport must be allowed (WINRM_ALLOWED_TRANSPORTS). `user` and `password` are ignored there
 * (credentials come from the configuration only), and so they are here.
 */
export function checkWinrmPolicy(body: Record<string, unknown>, host: InventoryHost, allowedTransports: readonly string[]): void {
  const p = hostPolicy(host);
  if (given(body.use_ssl)) {
    const ssl = boolOf(body.use_ssl);
    if (ssl === undefined) throw new BadRequest('request use_ssl is invalid');
    if (ssl !== p.ssl) throw MISMATCH('use_ssl');
  }
  if (given(body.port)) {
    const v = body.port;
    const port = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(port)) throw new BadRequest('request port is invalid');
    if (port !== p.port) throw MISMATCH('port');
  }
  if (given(body.transport)) {
    if (typeof body.transport !== 'string') throw new BadRequest('request transport is invalid');
    if (body.transport.trim().toLowerCase() !== p.transport) throw MISMATCH('transport');
  }
  if (!allowedTransports.includes(p.transport)) throw new BadRequest(`WinRM transport '${p.transport}' of host '${host.name}' is not allowed (WINRM_ALLOWED_TRANSPORTS)`);
}

function deadlineFor(deps: OpsApiDeps, command: string, args: readonly string[]): number {
  if (command !== 'prepare-session') return deps.settings.commandTimeoutMs;
  return deps.settings.commandTimeoutMs + guardGraceOf(args) * 1000;
}

export async function routeWinrm(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  const hostName = str(body.host);
  const command = typeof body.command === 'string' ? body.command.trim() : undefined;
  if (!hostName || !command) return err(400, 'host and command are required');
  if (!deps.policy.allowedCommands.includes(command)) return err(400, `command '${command}' not allowed`);
  const host = deps.index().find(hostName);
  if (!host) return err(404, `host '${hostName}' not found in config`);
  const args = argList(body.args, 'args') ?? [];
  // every argument must reach LabStation.exe exactly through the cmd shell, or nothing is sent
  const unpassable = argumentProblem([command, ...args]);
  if (unpassable) return err(400, unpassable.message);
  checkWinrmPolicy(body, host, deps.policy.allowedTransports);
  const client = deps.ports.connect(host);
  try {
    const r = await client.run(host.labstationExe, [command, ...args], { signal: deps.signal, deadlineMs: deadlineFor(deps, command, args) });
    return { status: 200, body: { duration_ms: Math.round(r.durationMs), exit_code: r.exitCode, stderr: r.stderr, stdout: r.stdout } };
  } finally {
    await client.close();
  }
}

export interface PollAnswer {
  heartbeat: unknown;
  last_event: unknown;
  duration_ms: number;
}

/** One heartbeat read and stored as /api/heartbeat/poll does; a database failure is only logged, as upstream. */
export async function pollOne(deps: OpsApiDeps, host: InventoryHost, events: boolean, signal = deps.signal): Promise<PollAnswer> {
  const sink = deps.heartbeat.sink;
  const safeSink: HeartbeatSink | undefined = sink && {
    store: async (i) => {
      try {
        return await sink.store(i);
      } catch (e) {
        deps.log?.('warn', `heartbeat of ${host.name} not stored: ${(e as Error).message}`);
        return { heartbeatStored: false, eventsStored: 0, forcedLogoffs: [] };
      }
    },
  };
  const r = await pollHeartbeats(
    { hosts: [host], allHosts: deps.index().hosts, events, concurrency: 1, includeRaw: true },
    { source: deps.heartbeat.source, sink: safeSink, now: deps.ports.now },
    signal,
  );
  const h = r.hosts[0]!;
  if (!h.ok) throw new Error(h.error?.message ?? 'heartbeat poll failed');
  return { heartbeat: h.heartbeat ?? null, last_event: h.lastEvent ?? null, duration_ms: h.durationMs };
}

export async function routePoll(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  const hostName = str(body.host);
  if (!hostName) return err(400, 'host is required');
  const host = deps.index().find(hostName);
  if (!host) return err(404, `host '${hostName}' not found in config`);
  const r = await pollOne(deps, host, flag(body.include_events, true));
  return { status: 200, body: { ...r, host: hostName } };
}

/** `enabled` as the head worker reads it: a bool, a number, or a string where false/0/no/off is false. */
function enabledOf(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return !/^(false|0|no|off)$/i.test(v.trim());
  if (typeof v === 'boolean' || typeof v === 'number') return Boolean(v);
  throw new BadRequest('enabled must be a boolean');
}

/** Writes or removes the station's local-mode.flag over WinRM, as the Lab Manager's toggle does. */
export async function routeLocalMode(req: ApiRequest, deps: OpsApiDeps): Promise<ApiResponse> {
  const body = jsonBody(req);
  if (body.host === undefined || body.host === null) return err(400, 'host is required');
  const enabled = enabledOf(body.enabled);
  if (enabled === undefined) return err(400, 'enabled is required');
  const sent = String(body.host);
  const host = deps.index().find(sent);
  if (!host) return err(404, `host '${sent}' not found`);
  checkWinrmPolicy({}, host, deps.policy.allowedTransports);
  await deps.powershell(host, localModeScript(host.localModeFlagPath, enabled), deps.signal);
  return { status: 200, body: { host: body.host, localModeEnabled: enabled } };
}
