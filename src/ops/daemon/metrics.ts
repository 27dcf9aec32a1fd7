// Prometheus text exposition (format 0.0.4) of the daemon's state. Written here rather than with prom-client:
// the metrics are a snapshot of state the daemon keeps anyway, and the format is a few lines of text.
import { DURATION_BUCKETS, type LoopSnapshot } from './scheduler.js';
import type { ShardView } from './membership.js';

export interface MetricsInput {
  instance: string;
  loops: (LoopSnapshot & { buckets: readonly number[]; durationSum: number })[];
  shards: (ShardView & { owned: number | null })[];
  /** hosts whose last polled heartbeat says ready, among the hosts this instance polled */
  hostsReady: number | null;
  hostsPolled: number | null;
  alertsOpen: number | null;
  /** queue name -> depth (lab_sessions requested, reservations due, linbo:jobs pending …) */
  queues: Record<string, number>;
  process: { rssBytes: number; heapUsedBytes: number; cpuSeconds: number; startTimeSeconds: number };
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (l: Record<string, string>) => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const num = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN');

export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const sample = (name: string, l: Record<string, string>, v: number) => out.push(`${name}${labels(l)} ${num(v)}`);

  family('labops_loop_runs_total', 'counter', 'Loop runs (service loops: passes) by result.');
  for (const l of m.loops) {
    sample('labops_loop_runs_total', { loop: l.name, result: 'success' }, l.successes);
    sample('labops_loop_runs_total', { loop: l.name, result: 'failure' }, l.failures);
  }
  family('labops_loop_duration_seconds', 'histogram', 'Duration of loop runs.');
  for (const l of m.loops) {
    DURATION_BUCKETS.forEach((b, i) => sample('labops_loop_duration_seconds_bucket', { loop: l.name, le: String(b) }, l.buckets[i] ?? 0));
    sample('labops_loop_duration_seconds_bucket', { loop: l.name, le: '+Inf' }, l.runs);
    sample('labops_loop_duration_seconds_sum', { loop: l.name }, l.durationSum);
    sample('labops_loop_duration_seconds_count', { loop: l.name }, l.runs);
  }
  family('labops_loop_running', 'gauge', '1 while the loop is running (a run in progress, or a service loop up).');
  for (const l of m.loops) sample('labops_loop_running', { loop: l.name }, l.running ? 1 : 0);
  family('labops_loop_last_success_timestamp_seconds', 'gauge', 'End of the last successful run (0: none yet).');
  for (const l of m.loops) sample('labops_loop_last_success_timestamp_seconds', { loop: l.name }, l.lastSuccessAt ? Date.parse(l.lastSuccessAt) / 1000 : 0);
  family('labops_loop_last_duration_seconds', 'gauge', 'Duration of the last run.');
  for (const l of m.loops) sample('labops_loop_last_duration_seconds', { loop: l.name }, (l.lastDurationMs ?? 0) / 1000);

  family('labops_shard_members', 'gauge', 'Live instances sharing a fleet-wide loop.');
  for (const s of m.shards) sample('labops_shard_members', { loop: s.loop }, s.members.length);
  family('labops_shard_lease_valid', 'gauge', '1 while this instance holds a valid shard lease for the loop.');
  for (const s of m.shards) sample('labops_shard_lease_valid', { loop: s.loop }, s.valid ? 1 : 0);
  family('labops_shard_items', 'gauge', 'Items (hosts, servers, controllers) in this instance\'s share at its last run.');
  for (const s of m.shards) if (s.owned !== null) sample('labops_shard_items', { loop: s.loop }, s.owned);

  if (m.hostsReady !== null) {
    family('labops_hosts_ready', 'gauge', 'Hosts polled by this instance whose last heartbeat says ready.');
    sample('labops_hosts_ready', {}, m.hostsReady);
  }
  if (m.hostsPolled !== null) {
    family('labops_hosts_polled', 'gauge', 'Hosts in this instance\'s heartbeat share at its last poll.');
    sample('labops_hosts_polled', {}, m.hostsPolled);
  }
  if (m.alertsOpen !== null) {
    family('labops_alerts_open', 'gauge', 'Open heartbeat alerts of the hosts in this instance\'s share.');
    sample('labops_alerts_open', {}, m.alertsOpen);
  }
  family('labops_queue_depth', 'gauge', 'Work waiting, by queue.');
  for (const [q, v] of Object.entries(m.queues)) sample('labops_queue_depth', { queue: q }, v);

  family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  sample('process_resident_memory_bytes', {}, m.process.rssBytes);
  family('process_heap_used_bytes', 'gauge', 'V8 heap in use, in bytes.');
  sample('process_heap_used_bytes', {}, m.process.heapUsedBytes);
  family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.');
  sample('process_cpu_seconds_total', {}, m.process.cpuSeconds);
  family('process_start_time_seconds', 'gauge', 'Start time of the process since the epoch, in seconds.');
  sample('process_start_time_seconds', {}, m.process.startTimeSeconds);
  family('labops_instance_info', 'gauge', 'This instance\'s id (always 1).');
  sample('labops_instance_info', { instance_id: m.instance }, 1);
  return `${out.join('\n')}\n`;
}
