// labops daemon: long-running loops in one process. Each loop is an entry of LOOPS (name, what it needs, how it
// starts); a later loop (heartbeat poll, provisioning, …) is one more entry. SIGINT/SIGTERM: stop claiming,
// finish what is in flight, close the API, exit 0.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';

export interface DaemonOptions {
  listen?: string;
  only?: string;
}

interface RunningLoop {
  name: string;
  /** resolves when the loop has stopped */
  done: Promise<void>;
  stop(): Promise<void>;
}

interface LoopDef {
  name: string;
  summary: string;
  start(f: Factory, o: DaemonOptions, signal: AbortSignal): Promise<RunningLoop>;
}

const LOOPS: readonly LoopDef[] = [
  {
    name: 'api',
    summary: 'the ops-worker HTTP API (/health, /api/wol, /api/winrm, /api/heartbeat/poll, /api/reservations/*, /api/hosts/reload)',
    start: startApiLoop,
  },
  {
    name: 'reservations',
    summary: 'the reservation orchestrator (labops reserve scan as a loop)',
    start: async (f, _o, signal) => {
      const { scanSetup } = await import('./reserve.js');
      const { scanLoop } = await import('../../ops/reservations/scan.js');
      const { deps, config } = await scanSetup(f, {});
      const done = scanLoop(deps, config, signal, {
        onItem: (i) => f.io.info(`reservations: ${i.reservationId} ${i.phase} ${i.host ?? '-'} ${i.outcome}: ${i.message}`),
        onError: (e) => f.io.warn(`reservations: ${(e as Error).message}`),
      });
      return { name: 'reservations', done, stop: async () => void (await done) };
    },
  },
];

export function registerDaemon(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('daemon')
    .summary('run the long-running loops: the ops-worker HTTP API and the reservation orchestrator')
    .description(
      `Run labops' loops in one process until SIGINT or SIGTERM. Loops: ${LOOPS.map((l) => `${l.name} (${l.summary})`).join('; ')}. ` +
        'The API answers with the ops-worker\'s paths and bodies so the Lab Gateway /ops/ proxy and Lab Manager UI work unchanged, but accepts no credentials or transport overrides in request bodies, ' +
        'enforces the LabStation command allow-list, limits body size (api.max-body), never echoes secrets, and checks X-Ops-Internal-Token in constant time when api.token (OPS_INTERNAL_AUTH_TOKEN or OPS_INTERNAL_AUTH_TOKEN_FILE) is set.',
    )
    .option('--listen <addr:port>', 'API address (default: api.listen, 127.0.0.1:8081)')
    .option('--only <loops>', `comma-separated loops to run (default: all of ${LOOPS.map((l) => l.name).join(', ')})`)
    .action((o: DaemonOptions) => runDaemon(f, o));
  return helpAfter(
    cmd,
    'Examples:\n  labops daemon --listen 0.0.0.0:8081\n  labops daemon --only api --listen 127.0.0.1:8081\n  OPS_INTERNAL_AUTH_TOKEN_FILE=/etc/labops/ops-token labops daemon\n\nExit: 0 after SIGINT/SIGTERM; 2 bad --listen/--only or the address is in use.',
  );
}

export async function runDaemon(f: Factory, o: DaemonOptions): Promise<void> {
  const { UsageError } = await import('../../domain/errors.js');
  const names = o.only ? o.only.split(',').map((s) => s.trim()).filter(Boolean) : LOOPS.map((l) => l.name);
  const unknown = names.filter((n) => !LOOPS.some((l) => l.name === n));
  if (unknown.length || names.length === 0) throw new UsageError(`--only: unknown loop(s) ${unknown.join(', ') || '(none given)'}; known: ${LOOPS.map((l) => l.name).join(', ')}`);
  if (o.listen && !names.includes('api')) throw new UsageError('--listen needs the api loop');
  // SIGTERM (systemd stop) ends the loops like Ctrl-C does.
  const stopper = new AbortController();
  const onTerm = () => stopper.abort();
  process.once('SIGTERM', onTerm);
  f.signal.addEventListener('abort', onTerm, { once: true });
  const running: RunningLoop[] = [];
  try {
    for (const def of LOOPS.filter((l) => names.includes(l.name))) running.push(await def.start(f, o, stopper.signal));
    await new Promise<void>((resolve) => (stopper.signal.aborted ? resolve() : stopper.signal.addEventListener('abort', () => resolve(), { once: true })));
  } finally {
    process.removeListener('SIGTERM', onTerm);
    await Promise.allSettled(running.map((r) => r.stop()));
  }
}

/** The API's dependencies from the config; the inventory is re-read on /api/hosts/reload. */
async function startApiLoop(f: Factory, o: DaemonOptions, signal: AbortSignal): Promise<RunningLoop> {
  const cfg = await f.config();
  const [{ startOpsApi }, { reservationPorts, reservationSettings }, { loadInventory, HostIndex }, { createHeartbeatSource }, { resolveSecret }, { readFileSync }] = await Promise.all([
    import('../../ops/api/server.js'),
    import('../../ops/reservations/deps.js'),
    import('../../core/config/inventory.js'),
    import('../../core/heartbeat-sources.js'),
    import('../../core/config/secrets.js'),
    import('node:fs'),
  ]);
  let index = await f.inventory();
  const setting = cfg.setting('hosts');
  // A database is optional for the API (the ops-worker ran without MYSQL_DSN); a configured one must open.
  const explicitDb = cfg.setting('db').source.kind !== 'default';
  const db = explicitDb || names(o).includes('reservations') ? await f.database() : await f.database().catch(() => undefined);
  let token: string | undefined;
  const tokenRef = cfg.get('api.token');
  if (tokenRef) token = resolveSecret(tokenRef, 'api.token', f.env);
  else if (f.env.OPS_INTERNAL_AUTH_TOKEN_FILE) token = readFileSync(f.env.OPS_INTERNAL_AUTH_TOKEN_FILE, 'utf8').replace(/\r?\n$/, '');
  if (token !== undefined && token.length === 0) {
    const { UsageError } = await import('../../domain/errors.js');
    throw new UsageError('api.token is empty');
  }
  const source = await createHeartbeatSource('winrm', { template: cfg.get('heartbeat.path')!, cfg, timeoutMs: cfg.durationMs('heartbeat.timeout')!, env: f.env });
  let sink;
  if (db) {
    const { storeHeartbeat } = await import('../../core/db/heartbeat-store.js');
    sink = { store: (i: Parameters<typeof storeHeartbeat>[1]) => storeHeartbeat(db, i) };
  }
  const api = await startOpsApi({
    listen: o.listen ?? cfg.get('api.listen')!,
    maxBody: cfg.int('api.max-body')!,
    index: () => index,
    reloadHosts: async () => {
      index = new HostIndex(loadInventory(setting.value!, setting.source.kind !== 'default'));
      return index.hosts.length;
    },
    db,
    ports: await reservationPorts(cfg, f.env, f.clock, db),
    settings: reservationSettings(cfg),
    guardGrace: cfg.int('reservations.guard-grace')!,
    rebootTimeout: cfg.int('reservations.reboot-timeout')!,
    heartbeat: { source, sink },
    token,
    log: (level, m) => (level === 'info' ? f.io.info(`api: ${m}`) : f.io.warn(`api: ${m}`)),
    signal,
  });
  f.io.info(`api: listening on ${api.url}${token ? ' (X-Ops-Internal-Token required on /api/*)' : ''}`);
  // Tests and supervisors read the address from here when port 0 was asked for.
  if (f.io.json) f.io.out(JSON.stringify({ listening: api.url }));
  return {
    name: 'api',
    done: new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
    stop: async () => {
      await api.close();
      await source.close?.();
    },
  };
}

function names(o: DaemonOptions): string[] {
  return o.only ? o.only.split(',').map((s) => s.trim()) : LOOPS.map((l) => l.name);
}
