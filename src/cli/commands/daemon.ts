// labops daemon: every long-running loop in one process (heartbeat poll, reservation orchestrator, session
// provisioning and cleanup, server checks, labs refresh, DC job consumer) plus the ops-worker HTTP API with
// /health and /metrics. The body lives in daemon-run.ts, loaded only when the command runs.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';

export interface DaemonOptions {
  listen?: string;
  only?: string;
}

// Kept here (not imported from daemon-run.ts) so `labops --help` loads nothing heavy.
const LOOPS: readonly [string, string][] = [
  ['api', 'the ops-worker HTTP API (/api/wol, /api/winrm, /api/heartbeat/poll, /api/reservations/*, /api/hosts/reload) plus /health and /metrics'],
  ['heartbeat', 'heartbeat poll and alert evaluation every heartbeat.interval (OPS_POLL_INTERVAL; off with OPS_POLL_ENABLED=false); sharded'],
  ['reservations', 'the reservation orchestrator every reservations.scan-interval (OPS_RESERVATION_*); claims in MySQL'],
  ['provisioning', 'REQUESTED lab_sessions -> provision script; claims in MySQL'],
  ['cleanup', 'expired/revoked lab_sessions -> cleanup script; claims in MySQL'],
  ['servers', 'server health checks over SSH; sharded'],
  ['labs', 'CML labs refresh every cml.refresh-interval (LABS_REFRESH_INTERVAL), when cml.servers is configured; sharded'],
  ['dc-jobs', 'the DC job consumer on Redis Streams (REDIS_* from /etc/macct-worker.conf), when that file exists'],
];

export function registerDaemon(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('daemon')
    .summary('run every loop (heartbeat, reservations, provisioning, cleanup, servers, labs, DC jobs) and the ops-worker API')
    .description(
      `Run labops' loops in one process until SIGTERM or SIGINT. Loops: ${LOOPS.map(([n, s]) => `${n} (${s})`).join('; ')}. ` +
        'Each loop has its own interval, runs first at start, never overlaps itself, waits a jittered interval (daemon.jitter) and never delays another loop. ' +
        'Several instances share the work: claims in MySQL and a Redis consumer group for jobs, and for the sharded loops a lease row per instance in labops_instances ' +
        '(expiring after daemon.lease): hosts, servers and CML controllers are split over the live instances, and the share of an instance that dies is taken over ' +
        'within one lease. SIGTERM: stop claiming, finish or release in-flight work within daemon.stop-timeout, exit 0. SIGHUP: reload the config and the inventory. ' +
        'MySQL and Redis outages are ridden out (reconnects on their own). Logs: JSON lines on stderr when it is not a terminal, readable lines on a terminal; secrets redacted. ' +
        'The API answers with the ops-worker\'s paths and bodies (the Lab Gateway /ops/ proxy and Lab Manager UI work unchanged), accepts no credentials or transport overrides in request bodies, ' +
        'enforces the LabStation command allow-list, limits body size (api.max-body), and checks X-Ops-Internal-Token in constant time when api.token (OPS_INTERNAL_AUTH_TOKEN or OPS_INTERNAL_AUTH_TOKEN_FILE) is set. ' +
        '/health adds per-loop last run, last error and lease ownership (503 "degraded" when a loop is failing); /metrics is Prometheus text.',
    )
    .option('--listen <addr:port>', 'API address (default: api.listen, 127.0.0.1:8081)')
    .option('--only <loops>', `comma-separated loops to run (default: every configured one of ${LOOPS.map(([n]) => n).join(', ')})`)
    .action(async (o: DaemonOptions) => {
      const { runDaemon } = await import('./daemon-run.js');
      return runDaemon(f, o);
    });
  return helpAfter(
    cmd,
    [
      'Examples:',
      '  labops daemon --listen 0.0.0.0:8081',
      '  labops daemon --only heartbeat,reservations',
      '  labops daemon --only api --listen 127.0.0.1:8081',
      '  OPS_POLL_INTERVAL=120 LABOPS_DB=mysql://labops@db/labops labops daemon',
      '  kill -HUP $(pidof labops)            # reload config and inventory',
      '  curl -s 127.0.0.1:8081/metrics',
      '',
      'Exit: 0 after SIGTERM; 130 after SIGINT; 2 bad --listen/--only, bad config, or the address is in use; 3 database unreachable at start.',
    ].join('\n'),
  );
}
