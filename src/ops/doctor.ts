// labops doctor: read-only checks an operator runs first when something is off. Each check reports ok, warn,
// fail or skip with one line of detail; nothing is written anywhere.
import { existsSync, accessSync, constants } from 'node:fs';
import type { LabopsConfig } from '../core/config/load.js';
import type { HostIndex, InventoryHost } from '../core/config/inventory.js';
import type { Database } from '../core/db/database.js';
import type { ProbeSpec } from '../domain/probe-spec.js';
import type { PlannedLoop } from './daemon/plan.js';
import { mapPool } from '../domain/pool.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** what to do about a failure, as the command that failed would say it */
  hint?: string;
}

export interface DoctorPorts {
  config(): Promise<LabopsConfig>;
  inventory(): Promise<HostIndex>;
  database(): Promise<Database>;
  probe(spec: ProbeSpec, host: string, timeoutMs: number): Promise<{ up: boolean; reason?: string }>;
  /** extra checks contributed by other areas (Redis, LINBO API, …) */
  extra?: (() => Promise<CheckResult[]>)[];
  /** the loops `labops daemon` would run with this configuration and database, each with why not */
  daemonPlan?: () => Promise<PlannedLoop[]>;
  env: NodeJS.ProcessEnv;
}

export interface DoctorOptions {
  /** inventory hosts probed (an evenly spread sample; 0 = none; Infinity = every host) */
  sampleHosts: number;
  timeoutMs: number;
}

const message = (e: unknown) => (e as Error).message.split('\n')[0]!;

async function attempt(check: string, fn: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  try {
    const r = await fn();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    const { suggestion, context } = e as { suggestion?: string; context?: { file?: string; problems?: string[] } };
    // an inventory with many bad entries: one row for each, so every one can be fixed in one go
    if (context?.problems && context.problems.length > 1) return context.problems.map((p) => ({ check, status: 'fail', detail: `${context.file}: ${p}`, hint: suggestion }));
    return [{ check, status: 'fail', detail: message(e), hint: suggestion }];
  }
}

function which(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  if (bin.includes('/')) return existsSync(bin) ? bin : undefined;
  for (const dir of (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = `${dir}/${bin}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** One line per daemon loop: what `labops daemon` (without --only) would run, and why not. */
async function daemonChecks(ports: DoctorPorts): Promise<CheckResult[]> {
  if (!ports.daemonPlan) return [];
  const plan = await ports.daemonPlan();
  return plan.map((l) =>
    l.run
      ? { check: `daemon ${l.name}`, status: 'ok', detail: 'would run' }
      : { check: `daemon ${l.name}`, status: 'skip', detail: `would not run: ${l.reason ?? 'not configured'}` },
  );
}

export async function runDoctor(ports: DoctorPorts, o: DoctorOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let cfg: LabopsConfig | undefined;
  out.push(
    ...(await attempt('config', async () => {
      cfg = await ports.config();
      return { check: 'config', status: 'ok', detail: cfg.file ? `read ${cfg.file}` : 'no config file; environment and defaults' };
    })),
  );
  let index: HostIndex | undefined;
  out.push(
    ...(await attempt('inventory', async () => {
      index = await ports.inventory();
      return inventoryCheck(index);
    })),
  );
  out.push(...(await attempt('database', () => databaseCheck(ports, cfg))));
  if (cfg) {
    const c = cfg;
    out.push(...(await attempt('cml', () => cmlChecks(c, ports.env, o.timeoutMs))));
  }
  if (index && o.sampleHosts > 0) out.push(await hostsCheck(index, ports, o));
  out.push(...(await attempt('dhcp hook', () => dhcpHookCheck(ports.env))));
  out.push(...(await attempt('dc worker', () => dcWorkerCheck(ports.env))));
  out.push(...(await attempt('daemon', () => daemonChecks(ports))));
  for (const extra of ports.extra ?? []) out.push(...(await attempt('extra', extra)));
  return out;
}

function inventoryCheck(index: HostIndex): CheckResult {
  const inv = index.inventory;
  if (!inv.file) return { check: 'inventory', status: 'warn', detail: inv.warnings[0] ?? 'no inventory; the host list is empty' };
  return { check: 'inventory', status: inv.warnings.length ? 'warn' : 'ok', detail: `${inv.hosts.length} host(s) in ${inv.file}${inv.warnings.length ? `; ${inv.warnings.join('; ')}` : ''}` };
}

/** The store: reachable, migrated, and where its URL came from (MYSQL_DSN quietly winning over a config file's db is a classic). */
async function databaseCheck(ports: DoctorPorts, cfg: LabopsConfig | undefined): Promise<CheckResult> {
  const { describeSource } = await import('../core/config/load.js');
  const from = cfg ? ` (from ${describeSource(cfg.setting('db').source)})` : '';
  let db: Database;
  try {
    db = await ports.database();
  } catch (e) {
    return { check: 'database', status: 'fail', detail: `${message(e)}${from}`, hint: (e as { suggestion?: string }).suggestion };
  }
  const { migrationStatus, isComplete } = await import('../core/db/migrations.js');
  const status = await migrationStatus(db.kysely, db.dialect);
  if (isComplete(status)) return { check: 'database', status: 'ok', detail: `${db.url}${from}: reachable, migrated` };
  const tables = status.flatMap((m) => m.tables);
  const rejecting = tables.flatMap((t) => t.rejectingColumns.map((c) => `${t.table}.${c}`));
  const missing = tables.filter((t) => (!t.exists && !t.owner) || t.missingColumns.length).map((t) => (t.exists ? `${t.table} (columns ${t.missingColumns.join(',')})` : t.table));
  if (missing.length === 0 && rejecting.length) {
    // migrate never alters a table: widening the column is its owner's change
    return { check: 'database', status: 'fail', detail: `${db.url}${from}: a column rejects what labops writes: ${rejecting.join('; ')}`, hint: 'widen the column (ALTER TABLE … MODIFY) with its owner; labops db migrate never alters a table' };
  }
  return { check: 'database', status: 'fail', detail: `${db.url}${from}: not fully migrated${missing.length ? `: ${missing.join(', ')}` : ''}`, hint: 'run labops db migrate' };
}

/**
 * One check per configured CML server: its system information, then a login, over a client of its own; a wrong
 * password fails here, as it would fail the sync, with the same hint (e.g. --ca for an untrusted certificate).
 */
async function cmlChecks(c: LabopsConfig, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CheckResult[]> {
  const { parseCmlServers, resolveCmlServer } = await import('../core/config/cml.js');
  const servers = parseCmlServers(c.raw, c.file);
  if (!servers.length) return [{ check: 'cml', status: 'skip', detail: 'no CML servers configured' }];
  const { CmlClient } = await import('../core/http-apis/cml-client.js');
  return Promise.all(
    servers.map(async (s) => {
      const name = `cml ${s.id}`;
      try {
        const r = resolveCmlServer(s, c.file, env);
        const client = new CmlClient({ url: r.url, username: r.username, password: r.passwordValue, ca: r.caPem, insecure: r.insecure, timeoutMs });
        try {
          const info = await client.systemInformation();
          await client.authenticate();
          return { check: name, status: info.ready ? 'ok' : 'warn', detail: `${r.url}: CML ${info.version}, login as ${r.username} accepted${info.ready ? '' : ', not ready'}` } as CheckResult;
        } finally {
          client.close();
        }
      } catch (e) {
        const hint = (e as { suggestion?: string }).suggestion?.replace('for this server', `(${s.path} in ${c.file ?? 'the config'})`);
        return { check: name, status: 'fail', detail: message(e), hint } as CheckResult;
      }
    }),
  );
}

/** A probe of an evenly spread sample of the inventory's hosts, or of every one (quarantined ones left out). */
async function hostsCheck(index: HostIndex, ports: DoctorPorts, o: DoctorOptions): Promise<CheckResult> {
  const hosts = index.hosts.filter((h) => !h.quarantined);
  const sample = hosts.length <= o.sampleHosts ? hosts : Array.from({ length: o.sampleHosts }, (_, i) => hosts[Math.floor((i * hosts.length) / o.sampleHosts)]!);
  const what = sample.length === hosts.length ? 'host(s)' : 'sampled host(s)';
  const probeOf = (h: InventoryHost): ProbeSpec => h.probe ?? { kind: 'tcp', port: h.winrmPort ?? (h.winrmUseSsl ? 5986 : 5985) };
  const results = await mapPool(sample, 64, async (h) => ({ h, r: await ports.probe(probeOf(h), h.pingTarget ?? h.address, o.timeoutMs) }));
  const down = results.filter((x) => !x.r.up);
  return {
    check: 'hosts',
    status: sample.length === 0 ? 'skip' : down.length === 0 ? 'ok' : down.length === sample.length ? 'fail' : 'warn',
    detail: sample.length === 0 ? 'no hosts' : `${sample.length - down.length}/${sample.length} ${what} reachable${down.length ? `; not: ${down.map((x) => `${x.h.name} (${x.r.reason ?? 'down'})`).join(', ')}` : ''}`,
  };
}

async function dhcpHookCheck(env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const { LINBO_DOCKER_DHCP_CONF, loadDhcpHookConfig } = await import('../core/config/linbo-docker-dhcp-conf.js');
  const path = env.LINBO_DOCKER_DHCP_CONF ?? LINBO_DOCKER_DHCP_CONF;
  if (!existsSync(path)) return { check: 'dhcp hook', status: 'skip', detail: `${path} not present (not a DC)` };
  const c = loadDhcpHookConfig(path, {});
  const problems: string[] = [];
  if (!existsSync(c.devicesDhcp)) problems.push(`${c.devicesDhcp} missing`);
  if (!which(c.dhcpd ?? 'dhcpd', env)) problems.push('dhcpd not found (dhcpd -t validation)');
  return { check: 'dhcp hook', status: problems.length ? 'warn' : 'ok', detail: problems.length ? problems.join('; ') : `${path}: next-server ${c.linboDockerIp ?? "(unset)"}, ${c.devicesDhcp}` };
}

async function dcWorkerCheck(env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const { MACCT_WORKER_CONF } = await import('../core/config/macct-worker-conf.js');
  const path = env.MACCT_WORKER_CONF ?? MACCT_WORKER_CONF;
  if (!existsSync(path)) return { check: 'dc worker', status: 'skip', detail: `${path} not present (not a DC)` };
  const tools = ['ldbsearch', 'ldbmodify'].filter((t) => !which(t, env));
  return { check: 'dc worker', status: tools.length ? 'warn' : 'ok', detail: tools.length ? `missing tools: ${tools.join(', ')}` : `${path} present; ldbsearch and ldbmodify found` };
}
