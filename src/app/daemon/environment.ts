// The Lab Gateway's environment, checked when the daemon starts: every ops-worker variable is honoured through
// a setting (src/core/config/settings.ts), named as belonging to a feature labops does not provide, or refused
// here with the reason when honouring it is impossible or its meaning would change.
import type { LabopsConfig } from '../../core/config/load.js';
import type { HostIndex } from '../../core/config/inventory.js';
import type * as NetModule from 'node:net';
import type { BlockList } from 'node:net';
import { UsageError } from '../../domain/errors.js';
import { OTHER_ENV, SETTING_DEFS, opsWorkerDsn, unprovidedFeature, upstreamSecret } from '../../core/config/settings.js';
import { closestName } from '../../domain/closest-name.js';
import { daemonSettings, settingWhere } from '../settings.js';

/** The set variables of upstream features labops does not provide, grouped by feature. */
export function unprovidedVariables(env: NodeJS.ProcessEnv): { feature: string; names: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const name of Object.keys(env).sort()) {
    const feature = env[name] ? unprovidedFeature(name) : undefined;
    if (feature) groups.set(feature, [...(groups.get(feature) ?? []), name]);
  }
  return [...groups].map(([feature, names]) => ({ feature, names }));
}

/** OPS_* variables that are neither settings nor upstream ones labops knows of: likely typos. */
export function unknownOpsVariables(env: NodeJS.ProcessEnv): { name: string; near?: string }[] {
  const known = [...SETTING_DEFS.flatMap((d) => d.env), ...OTHER_ENV.map((e) => e.name), 'OPS_BACKEND_MYSQL_PASSWORD', 'OPS_BACKEND_MYSQL_PASSWORD_FILE', 'OPS_MYSQL_DATABASE'];
  return Object.keys(env)
    .filter((n) => n.startsWith('OPS_') && env[n] && !known.includes(n) && !unprovidedFeature(n))
    .map((name) => ({ name, near: closestName(name, known) }));
}

function refuseAmbiguousFlags(cfg: LabopsConfig, env: NodeJS.ProcessEnv): void {
  const poll = env.OPS_POLL_ENABLED;
  // the ops-worker turns the poller on for `true` only: 1, yes and on meant off there
  if (poll && cfg.setting('heartbeat.poll-enabled').source.kind === 'env' && !/^(true|false|0|no|off)$/i.test(poll.trim())) {
    throw new UsageError(`OPS_POLL_ENABLED='${poll}': the ops-worker reads only 'true' as on, so this value meant off there; write true or false`);
  }
  if (env.RESERVATION_PROJECTION_URL && daemonSettings(cfg).automation) {
    throw new UsageError('RESERVATION_PROJECTION_URL is set: the Lite-mode reservation feed is not provided by labops, which reads lab_reservations', {
      suggestion: 'unset RESERVATION_PROJECTION_URL to orchestrate from lab_reservations, or set OPS_RESERVATION_AUTOMATION=false',
    });
  }
}

function refusePartialDsn(cfg: LabopsConfig, env: NodeJS.ProcessEnv): void {
  const db = cfg.setting('db').source;
  if (!env.OPS_BACKEND_MYSQL_USER || db.kind !== 'default' || opsWorkerDsn(env)) return;
  const missing = [
    upstreamSecret(env, 'OPS_BACKEND_MYSQL_PASSWORD') ? undefined : 'OPS_BACKEND_MYSQL_PASSWORD (or _FILE)',
    env.OPS_MYSQL_DATABASE || env.BLOCKCHAIN_MYSQL_DATABASE ? undefined : 'OPS_MYSQL_DATABASE (or BLOCKCHAIN_MYSQL_DATABASE)',
  ].filter(Boolean);
  throw new UsageError(`OPS_BACKEND_MYSQL_USER is set but ${missing.join(' and ')} is empty: the ops-worker would run without a database; labops refuses to`, {
    suggestion: 'set the missing variable, or MYSQL_DSN / LABOPS_DB',
  });
}

const isLoopback = (host: string) => /^127\./.test(host) || host === '::1' || host === 'localhost';

/** Throws for what cannot be honoured; returns lines to log once (variables of features labops does not provide). */
export function checkEnvironment(cfg: LabopsConfig, env: NodeJS.ProcessEnv, api?: { host: string; token?: string }): string[] {
  refuseAmbiguousFlags(cfg, env);
  refusePartialDsn(cfg, env);
  if (api && !api.token && !isLoopback(api.host)) {
    throw new UsageError(`the API would listen on ${api.host} without api.token (OPS_INTERNAL_AUTH_TOKEN or OPS_INTERNAL_AUTH_TOKEN_FILE): refused`, {
      suggestion: 'set OPS_INTERNAL_AUTH_TOKEN_FILE, or listen on 127.0.0.1',
    });
  }
  const lines = unprovidedVariables(env).map((g) => `not provided by labops, so not used: ${g.feature}: ${g.names.join(', ')}`);
  for (const u of unknownOpsVariables(env)) lines.push(`unknown variable ${u.name} ignored${u.near ? ` (did you mean ${u.near}?)` : ''}`);
  return lines;
}

type Net = typeof NetModule;

function parseCidrs(cfg: LabopsConfig, text: string, net: Net): BlockList {
  const list = new net.BlockList();
  for (const c of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c);
    const family = m ? net.isIP(m[1]!) : 0;
    if (!m || !family || Number(m[2]) > (family === 4 ? 32 : 128)) throw new UsageError(`${settingWhere(cfg, 'winrm.management-cidrs')}: '${c}' is not a CIDR like 10.7.74.0/24`);
    list.addSubnet(m[1]!, Number(m[2]), family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/**
 * WINRM_MANAGEMENT_CIDRS, as the head ops-worker checks its catalog: every host address (an IP, or each address
 * a name resolves to) must have one address inside a CIDR; a name that does not resolve fails. Unset: no check
 * (the ops-worker required it once it had hosts).
 */
export async function checkManagementCidrs(cfg: LabopsConfig, index: HostIndex): Promise<void> {
  const text = cfg.value('winrm.management-cidrs');
  if (!text) return;
  const [net, { lookup }] = await Promise.all([import('node:net'), import('node:dns/promises')]);
  const list = parseCidrs(cfg, text, net);
  const outside: string[] = [];
  for (const h of index.hosts) {
    let addresses: { address: string; family: number }[];
    try {
      addresses = net.isIP(h.address) ? [{ address: h.address, family: net.isIP(h.address) }] : await lookup(h.address, { all: true });
    } catch (e) {
      outside.push(`${h.name} (${h.address} does not resolve: ${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    if (!addresses.some((a) => list.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'))) outside.push(`${h.name} (${h.address})`);
  }
  if (outside.length) throw new UsageError(`${settingWhere(cfg, 'winrm.management-cidrs')}: host(s) outside the management networks: ${outside.join(', ')}`);
}
