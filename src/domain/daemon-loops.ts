// The daemon's loops as data: one table read by `labops daemon --help`, the daemon's assembly and /health.

export const DAEMON_LOOPS = [
  { name: 'api', sharded: false, summary: 'the ops-worker HTTP API (/api/hosts, /api/wol, /api/winrm, /api/heartbeat/poll|stream, /api/hosts/local-mode|reload, /api/operations/recent, /api/reservations/*) plus /health and /metrics' },
  { name: 'heartbeat', sharded: true, summary: 'heartbeat poll and alert evaluation every heartbeat.interval (OPS_POLL_INTERVAL; off with OPS_POLL_ENABLED=false), when the inventory has hosts; sharded' },
  { name: 'reservations', sharded: false, summary: 'the reservation orchestrator every reservations.scan-interval (OPS_RESERVATION_*; off with OPS_RESERVATION_AUTOMATION=false), when lab_reservations exists; claims in MySQL' },
  { name: 'provisioning', sharded: false, summary: "REQUESTED lab_sessions -> provision script, when the collector's tables exist; claims in MySQL" },
  { name: 'cleanup', sharded: false, summary: "expired/revoked lab_sessions -> cleanup script, when the collector's tables exist; claims in MySQL" },
  { name: 'servers', sharded: true, summary: "server health checks over SSH, when the collector's tables exist; sharded" },
  { name: 'labs', sharded: true, summary: 'CML labs refresh every cml.refresh-interval (LABS_REFRESH_INTERVAL), when cml.servers is configured; sharded' },
  { name: 'dc-jobs', sharded: false, summary: 'the DC job consumer on Redis Streams (REDIS_* from /etc/macct-worker.conf), when that file exists' },
] as const;

export type LoopName = (typeof DAEMON_LOOPS)[number]['name'];
export type WorkLoopName = Exclude<LoopName, 'api'>;

export const LOOP_NAMES: readonly LoopName[] = DAEMON_LOOPS.map((l) => l.name);

/** Loops whose work is the whole fleet, split over the live instances by shard leases. */
export const SHARDED_LOOPS: readonly LoopName[] = DAEMON_LOOPS.filter((l) => l.sharded).map((l) => l.name);

export function isLoopName(n: string): n is LoopName {
  return (LOOP_NAMES as readonly string[]).includes(n);
}

/** The parts of labops that keep tables in a database (src/core/db/migrations.ts PARTS). */
export const STORE_PARTS = ['gateway', 'collector', 'cml', 'daemon'] as const;
export type StorePart = (typeof STORE_PARTS)[number];
