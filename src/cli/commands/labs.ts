// labops labs sync | list | history: the CML lab cache.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg, watchInterval } from '../args.js';
import { helpAfter } from '../help.js';
import type { LabsSyncResult, ServerSyncResult } from '../../ops/labs-sync.js';
import type { LabRecord, HistoryEntry } from '../../domain/labs/record.js';
import { act, formerly, listing, renamed } from '../action.js';
import { UsageError } from '../../domain/errors.js';
import type { Outcome } from '../../domain/outcome.js';

export interface LabsSyncOptions {
  server?: string[];
  purge?: boolean;
  concurrency?: number;
  labConcurrency?: number;
  timeout?: number;
  acceptEmptyList?: boolean;
}

export interface LabsListOptions {
  server?: string[];
  includeOrphaned?: boolean;
  format?: 'table' | 'tsv' | 'json' | 'api' | 'lab-record';
  /** --watch: redraw every this many ms */
  watchMs?: number;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerLabs(parent: Command, f: Factory): Command {
  const labs = parent
    .command('labs')
    .summary('cache Cisco Modeling Labs (CML) labs and their change history')
    .description(
      'Keep a SQL cache of the labs on the CML controllers named in the config file (cml.servers), so UIs need not ' +
        'call the CML API on every request, with a history of the last 50 changes per lab.',
    );

  const sync = labs
    .command('sync')
    .description(
      'Log in to each CML controller, list every lab (show_all=true) and fetch each lab\'s detail over a few ' +
        'kept-alive TLS connections, then store what changed. Labs gone from a controller are marked orphaned, never ' +
        'when the list failed, answered 404 or came back unexpectedly empty; --purge removes the marked ones. ' +
        'With --json, lab events (created, state_changed, orphaned), one line per server and a summary stream as NDJSON. ' +
        'Events also go to the notification hook (config "notify": {"command": [...], "webhook": "..."}).',
    )
    .option('--server <id>', 'only this server (repeatable)', collect)
    .option('--purge', 'delete the records of labs marked orphaned, with their history')
    .option('--concurrency <n>', 'servers synced at once (default: cml.concurrency, 5)', intArg(1, 256))
    .option('--lab-concurrency <n>', 'lab details fetched at once per server (default: cml.lab-concurrency, 4)', intArg(1, 64))
    .option('--timeout <dur>', 'deadline of one API request (default: cml.timeout, 30s)', durationArg)
    .option('--accept-empty-list', 'trust an empty lab list: mark every stored lab of that server orphaned');
  act(listing(sync), f, (o: LabsSyncOptions) => o, runLabsSync);
  helpAfter(
    sync,
    'Examples:\n  labops labs sync\n  labops labs sync --server cml-1 --json | jq -c \'select(.type=="lab")\'\n  labops labs sync --purge\n\n' +
      'Exit: 0 all synced; 1 a controller answered but not as CML does (GET /labs 404: is the URL the controller?);\n' +
      '2 bad config (nothing contacted); 3 all unreachable; 4 wrong credentials or untrusted certificate; 5 some servers or\n' +
      'labs failed, or a controller listed no labs while labs of it are cached (nothing marked orphaned; --accept-empty-list trusts it).',
  );

  const list = labs
    .command('list')
    .description('Show the cached labs. --json prints the CML Cloud Manager API shape; --format lab-record prints its lab_records documents (with history).')
    .option('--server <id>', 'only this server (repeatable)', collect)
    .option('--include-orphaned', 'include labs marked orphaned; formerly --all')
    .option('--watch [interval]', 'redraw the table in place on the terminal every interval (default 2s), changed rows highlighted; q or Ctrl-C ends it');
  formerly(list, '--all', '--include-orphaned');
  act(
    listing(list, ['api', 'lab-record']),
    f,
    (o: Omit<LabsListOptions, 'watchMs'> & { all?: boolean; watch?: string | boolean }): LabsListOptions => ({
      server: o.server,
      format: o.format,
      includeOrphaned: renamed(f, { flag: '--include-orphaned', value: o.includeOrphaned }, { flag: '--all', value: o.all }),
      watchMs: watchInterval(o.watch),
    }),
    runLabsList,
  );
  helpAfter(list, 'Examples:\n  labops labs list\n  labops labs list --server cml-1 --json\n  labops labs list --format lab-record > lab_records.json');

  const history = labs
    .command('history')
    .description('Show the change history of one lab (newest last): state, title, node count and link count changes.')
    .argument('<labId>', 'the CML lab id')
    .option('--server <id>', 'the server, when the lab id exists on several');
  act(listing(history), f, (labId: string, o: { server?: string }) => ({ labId, server: o.server }), runLabsHistory);
  helpAfter(history, 'Example:\n  labops labs history 444a78d1-575c-4746-8469-696e580f17b6');
  return labs;
}

export async function runLabsSync(f: Factory, o: LabsSyncOptions): Promise<Outcome[]> {
  const [{ syncCmlLabs }, { startProgress }] = await Promise.all([import('../../app/labs.js'), import('../io/spinner.js')]);
  const line = (v: unknown) => f.io.out(JSON.stringify(v));
  // A server's lab events arrive in one burst just before its result: written with it, one write per server, not per lab.
  let burst: string[] = [];
  const flushBurst = () => {
    if (burst.length) f.io.out(burst.join('\n'));
    burst = [];
  };
  const progress = await startProgress(f.io, 'syncing CML server(s)');
  let done = 0;
  let synced: Awaited<ReturnType<typeof syncCmlLabs>>;
  try {
    synced = await syncCmlLabs(f, o, {
      onEvent: f.io.json ? (e) => burst.push(JSON.stringify({ type: 'lab', ...e })) : undefined,
      onServer: (r) => {
        progress.update(`syncing CML server(s): ${++done} done`);
        if (f.io.json) {
          burst.push(JSON.stringify({ type: 'server', ...r }));
          flushBurst();
        }
      },
    });
  } finally {
    flushBurst();
    progress.stop();
  }
  const { result, servers, outcomes } = synced;
  if (f.io.json) line({ type: 'summary', ...result.totals, events: result.events, notify_error: result.notifyError });
  else await renderSync(f, result, new Map(servers.map((s) => [s.id, s])));
  return outcomes;
}

async function renderSync(f: Factory, result: LabsSyncResult, byId: Map<string, { path: string }>): Promise<void> {
  const { renderTable, stderrColors } = await import('../io/render.js');
  const status = (r: ServerSyncResult) => (r.status === 'synced' ? (r.labErrors.length ? 'partial' : 'synced') : `failed (${r.error?.reason ?? 'error'})`);
  renderTable<ServerSyncResult>(
    f.io,
    [
      { header: 'SERVER', value: (r) => r.server },
      { header: 'STATUS', value: status, pretty: (r, c) => (r.status === 'failed' ? c.red : r.labErrors.length ? c.yellow : c.green)(status(r)) },
      { header: 'LABS', value: (r) => String(r.listed) },
      { header: 'SYNCED', value: (r) => String(r.synced) },
      { header: 'CREATED', value: (r) => String(r.created) },
      { header: 'UPDATED', value: (r) => String(r.updated) },
      { header: 'ORPHANED', value: (r) => String(r.orphaned) },
      { header: 'PURGED', value: (r) => String(r.purged) },
      { header: 'ERRORS', value: (r) => String(r.labErrors.length) },
      { header: 'VERSION', value: (r) => (r.health.ok ? r.health.version : '-') },
    ],
    result.servers,
  );
  const c = stderrColors(f.io);
  for (const r of result.servers) {
    if (r.error) {
      f.io.error(`${c.red(r.server)}: ${r.error.message}`);
      if (r.error.suggestion) f.io.error(`hint: ${r.error.suggestion.replace('for this server', `(${byId.get(r.server)?.path ?? r.server})`)}`);
    }
    for (const e of r.labErrors) f.io.error(`${r.server}: ${e.error}`);
    for (const w of r.warnings) f.io.warn(`${r.server}: ${w}`);
  }
  if (result.notifyError) f.io.warn(`notification hook: ${result.notifyError}`);
  const t = result.totals;
  f.io.info(`${t.servers - t.failed}/${t.servers} server(s) synced: ${t.synced} lab(s), ${t.created} created, ${t.updated} updated, ${t.orphaned} orphaned${t.purged ? `, ${t.purged} purged` : ''}`);
}

export async function runLabsList(f: Factory, o: LabsListOptions): Promise<void> {
  if (o.watchMs === undefined) return listOnce(f, o);
  if (f.io.json || (o.format && o.format !== 'table')) throw new UsageError('--watch draws a table; it does not combine with --json or another --format');
  const { watchTable } = await import('../io/watch.js');
  await watchTable(f.io, f.signal, { intervalMs: o.watchMs, title: 'labops labs list', now: f.clock.now, sleep: f.clock.sleep }, (io) => listOnce({ ...f, io }, o));
}

async function listOnce(f: Factory, o: LabsListOptions): Promise<void> {
  const { listLabs, labRecordDocuments } = await import('../../app/labs.js');
  // json (or --json) is the Cloud Manager API shape; table and tsv were applied by main
  const format = o.format === 'lab-record' ? 'lab-record' : o.format === 'api' || f.io.json ? 'api' : 'table';
  if (format === 'lab-record') return f.io.printJson(await labRecordDocuments(f, { server: o.server, includeOrphans: o.includeOrphaned }));
  const records = await listLabs(f, { server: o.server, includeOrphans: o.includeOrphaned });
  if (format === 'api') {
    const { toCloudManagerLab } = await import('../../domain/labs/shapes.js');
    return f.io.printJson(records.map(toCloudManagerLab));
  }
  const { renderTable, relativeTime } = await import('../io/render.js');
  const now = new Date(f.clock.now());
  const when = (iso: string | null) => (iso === null ? '-' : iso);
  const pretty = (iso: string | null) => (iso === null ? '-' : relativeTime(new Date(iso), now));
  renderTable<LabRecord>(
    f.io,
    [
      { header: 'SERVER', value: (r) => r.serverId },
      { header: 'LAB ID', value: (r) => r.labId },
      { header: 'TITLE', flex: true, value: (r) => r.title },
      { header: 'STATE', value: (r) => (r.orphanedAt ? `${r.state} (orphaned)` : r.state), pretty: (r, c) => (r.orphanedAt ? c.dim(`${r.state} (orphaned)`) : r.state === 'STARTED' ? c.green(r.state) : r.state) },
      { header: 'OWNER', value: (r) => r.ownerUsername ?? '-' },
      { header: 'NODES', value: (r) => String(r.nodeCount) },
      { header: 'LINKS', value: (r) => String(r.linkCount) },
      { header: 'LAST CHANGE', value: (r) => when(r.modifiedAt), pretty: (r) => pretty(r.modifiedAt) },
      { header: 'LAST SYNCED', value: (r) => when(r.lastSyncedAt), pretty: (r) => pretty(r.lastSyncedAt) },
    ],
    records,
  );
  if (f.io.stdoutIsTTY && records.length === 0) f.io.info('no cached labs; run labops labs sync');
}

export async function runLabsHistory(f: Factory, o: { labId: string; server?: string }): Promise<void> {
  const { labHistory } = await import('../../app/labs.js');
  const { record: rec, entries } = await labHistory(f, o.labId, o.server);
  if (f.io.json) {
    return f.io.printJson({ server: rec.serverId, lab_id: rec.labId, title: rec.title, state: rec.state, orphaned_at: rec.orphanedAt, operation_history: entries.map(({ seq: _seq, ...e }) => e) });
  }
  const { renderTable } = await import('../io/render.js');
  const changes = (h: HistoryEntry) => Object.entries(h.changed_fields).map(([k, v]) => `${k}: ${JSON.stringify(v.old)} → ${JSON.stringify(v.new)}`).join('; ') || '-';
  renderTable<HistoryEntry>(
    f.io,
    [
      { header: 'TIME', value: (h) => h.timestamp },
      { header: 'PREVIOUS', value: (h) => h.previous_state ?? '-' },
      { header: 'NEW', value: (h) => h.new_state },
      { header: 'CHANGES', flex: true, value: changes },
    ],
    entries,
  );
  if (f.io.stdoutIsTTY) f.io.info(`${rec.serverId} / ${rec.title}: ${entries.length} change(s) kept (last 50)`);
}
