// labops daemon: every long-running loop in one process (heartbeat poll, reservation orchestrator, session
// provisioning and cleanup, server checks, labs refresh, DC job consumer) plus the ops-worker HTTP API with
// /health and /metrics. The command keeps the flags, the log's destination and the signal wiring; the daemon is
// assembled in src/app/daemon and supervised by src/ops/daemon/supervisor.ts.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { act, looping } from '../action.js';
import { UsageError } from '../../domain/errors.js';
import { DAEMON_LOOPS, LOOP_NAMES, isLoopName } from '../../domain/daemon-loops.js';
import type { DaemonOptions } from '../../app/daemon/index.js';

interface DaemonFlags {
  listen?: string;
  only?: string;
}

const LOOPS = DAEMON_LOOPS.map((l) => [l.name, l.summary] as const);

export function registerDaemon(parent: Command, f: Factory): Command {
  const cmd = looping(parent.command('daemon'))
    .summary('run every loop (heartbeat, reservations, provisioning, cleanup, servers, labs, DC jobs) and the ops-worker API')
    .description(
      `Run labops' loops in one process until SIGTERM or SIGINT. Loops: ${LOOPS.map(([n, s]) => `${n} (${s})`).join('; ')}. ` +
        'Without --only, a loop runs when its configuration is present and the tables it works on exist (labops creates its own); each other loop is reported once at start and shown in /health as disabled with the reason. ' +
        '--only forces the named loops on (their failures then make /health degraded). labops doctor shows the same plan. ' +
        'Each loop has its own interval, runs first at start, never overlaps itself, waits a jittered interval (daemon.jitter) and never delays another loop. ' +
        'Several instances share the work: claims in MySQL and a Redis consumer group for jobs, and for the sharded loops a lease row per instance in labops_instances ' +
        '(expiring after daemon.lease): hosts, servers and CML controllers are split over the live instances, and the share of an instance that dies is taken over ' +
        'within one lease (the instances that gain hosts poll them at once). SIGTERM: stop claiming, finish or release in-flight work within daemon.stop-timeout, exit 0. SIGHUP: reload the config and the inventory. ' +
        'MySQL and Redis outages are ridden out (reconnects on their own). Logs: JSON lines on stderr when it is not a terminal, readable lines on a terminal; secrets redacted. ' +
        "The Lab Gateway ops-worker's environment works unchanged (OPS_BIND, OPS_PORT, OPS_POLL_*, OPS_RESERVATION_*, OPS_INTERNAL_AUTH_TOKEN[_FILE], MYSQL_DSN or OPS_BACKEND_MYSQL_*, …); a value labops cannot honour stops the start with exit 2 naming the variable. " +
        "The API answers with the head ops-worker's paths and bodies (the Lab Gateway /ops/ proxy and Lab Manager UI work unchanged, the heartbeat event stream included; features labops does not provide answer 501), " +
        'checks the internal token from the headers before reading a body, bounds header and body time, caps connections in total and per client address, and closes idle keep-alives. ' +
        '/health adds per-loop last run, last error and lease ownership (503 "degraded" when a running loop is failing); /metrics is Prometheus text. ' +
        'GET / is a status page for a browser (fleet, open alerts, loop health, DC job queue, the last reservations with a step timeline), updated live over /status/events; ' +
        'with a token it needs Authorization: Bearer, X-Ops-Internal-Token, or opening /?token=… once (sets a cookie, then redirects without the token).',
    )
    .option('--listen <addr:port>', 'API address (default: api.bind:api.port, OPS_BIND:OPS_PORT, 127.0.0.1:8081)')
    .option('--only <loops>', `comma-separated loops to run (default: every configured one of ${LOOPS.map(([n]) => n).join(', ')})`);
  act(cmd, f, daemonOptions, runDaemon);
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
      '  xdg-open http://127.0.0.1:8081/      # the status page',
      '',
      '  OPS_BIND=0.0.0.0 OPS_PORT=8081 OPS_INTERNAL_AUTH_TOKEN_FILE=/run/secrets/ops_internal_auth_token labops daemon',
      '',
      'Exit: 0 after SIGTERM; 130 after SIGINT; 2 bad --listen/--only, bad config or environment value, or the address is in use; 3 database unreachable at start.',
    ].join('\n'),
  );
}

export function daemonOptions(o: DaemonFlags): DaemonOptions {
  const only = o.only?.split(',').map((x) => x.trim()).filter(Boolean);
  if (only) {
    const unknown = only.filter((n) => !isLoopName(n));
    if (unknown.length || only.length === 0) throw new UsageError(`--only: unknown loop(s) ${unknown.join(', ') || '(none given)'}; known: ${LOOP_NAMES.join(', ')}`);
  }
  return { only: only?.filter(isLoopName), listen: o.listen };
}

async function runDaemon(f: Factory, o: DaemonOptions): Promise<void> {
  const { startDaemon } = await import('../../app/daemon/index.js');
  const daemon = await startDaemon(f.context, o, {
    sink: { write: (s) => void f.io.stderr.write(s) },
    tty: f.io.stderrIsTTY,
    color: f.io.colorEnabledStderr,
    level: f.io.verbose ? 'debug' : f.io.quiet ? 'warn' : undefined,
  });
  // Tests and supervisors read the address from here when port 0 was asked for.
  if (daemon.apiUrl && f.io.json) f.io.out(JSON.stringify({ listening: daemon.apiUrl }));
  const onHup = () => void daemon.reload();
  process.on('SIGHUP', onHup);
  try {
    await daemon.done;
  } finally {
    process.removeListener('SIGHUP', onHup);
  }
}
