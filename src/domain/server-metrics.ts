// Server health: the one remote script that collects everything in a single SSH round trip, its
// parser, and the alert rules. The collector ran seven commands and stored the user CPU % of `top -bn1`
// (its `us` field) in server_metrics.cpu_usage, which the collector's PHP UI charts: labops stores the
// same quantity, `us` over two /proc/stat samples (top -bn1's first frame averages since boot), and
// judges CPU_HIGH by the total busy % of the same samples. It looks for the unit `ssh` or `sshd`.

/** Every line the script prints is `key=value`; values never contain a newline. */
export function serverProbeScript(cpuSampleMs: number): string {
  const pause = Math.max(0.05, cpuSampleMs / 1000).toFixed(2);
  return [
    'export LC_ALL=C',
    'echo "cpu1=$(head -n1 /proc/stat)"',
    `sleep ${pause}`,
    'echo "cpu2=$(head -n1 /proc/stat)"',
    'echo "os=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") | head -n1)"',
    'v=$(systemd-detect-virt 2>/dev/null | head -n1); case "$v" in ""|none) v=baremetal;; esac; echo "virt=$v"',
    'echo "uptime=$(uptime -p 2>/dev/null || awk \'{print "up " int($1/60) " minutes"}\' /proc/uptime)"',
    // Without systemd as PID 1 (containers), fall back to looking for the listening daemon.
    'if [ -d /run/systemd/system ]; then s=$(systemctl is-active ssh 2>/dev/null); [ "$s" = active ] || s=$(systemctl is-active sshd 2>/dev/null); [ -n "$s" ] || s=unknown;',
    'else if pgrep -x sshd >/dev/null 2>&1 || pidof sshd >/dev/null 2>&1; then s=active; else s=inactive; fi; fi',
    'echo "sshd=$s"',
    "echo \"mem=$(awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t\" \"a}' /proc/meminfo)\"",
    "echo \"disk=$(df -P / 2>/dev/null | awk 'NR==2{print $5}')\"",
  ].join('\n');
}

export interface ServerMetrics {
  osVersion: string;
  virtualization: string;
  uptime: string;
  sshdStatus: string;
  /** user CPU % between the two samples: top's `us` (un-niced user time), the collector's cpu_usage */
  cpuUsage: number;
  /** total busy % between the two samples (everything but idle and iowait): what CPU_HIGH is judged by */
  cpuBusy: number;
  memUsage: number;
  diskUsage: number;
  /** what could not be read, for the report */
  problems: string[];
}

/** The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal (what top adds up). */
function cpuTimes(line: string | undefined): { user: number; busy: number; total: number } | undefined {
  if (!line) return undefined;
  const parts = line.trim().split(/\s+/);
  if (parts[0] !== 'cpu') return undefined;
  const n = parts.slice(1, 9).map(Number);
  if (n.length < 4 || n.some((x) => !Number.isFinite(x))) return undefined;
  const total = n.reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { user: n[0]!, busy: total - idle, total };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const clampPct = (x: number) => round2(Math.min(100, Math.max(0, x)));

export function parseServerProbe(output: string): ServerMetrics {
  const kv = new Map<string, string>();
  for (const line of output.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const problems: string[] = [];
  const text = (k: string, max: number) => {
    const v = kv.get(k);
    if (!v) {
      problems.push(`${k} not reported`);
      return 'NA';
    }
    return v.slice(0, max);
  };
  let cpuUsage = 0;
  let cpuBusy = 0;
  const a = cpuTimes(kv.get('cpu1'));
  const b = cpuTimes(kv.get('cpu2'));
  if (a && b && b.total > a.total) {
    cpuUsage = clampPct(((b.user - a.user) / (b.total - a.total)) * 100);
    cpuBusy = clampPct(((b.busy - a.busy) / (b.total - a.total)) * 100);
  } else if (!a || !b) problems.push('cpu not reported');
  let memUsage = 0;
  const [memTotal, memAvail] = (kv.get('mem') ?? '').split(/\s+/).map(Number);
  if (memTotal && memTotal > 0 && Number.isFinite(memAvail)) memUsage = clampPct(((memTotal - memAvail!) / memTotal) * 100);
  else problems.push('memory not reported');
  let diskUsage = 0;
  const disk = /^(\d+(?:\.\d+)?)%?$/.exec(kv.get('disk') ?? '');
  if (disk) diskUsage = clampPct(Number(disk[1]));
  else problems.push('disk usage of / not reported');
  return {
    osVersion: text('os', 255),
    virtualization: text('virt', 100),
    uptime: text('uptime', 255),
    sshdStatus: text('sshd', 20),
    cpuUsage,
    cpuBusy,
    memUsage,
    diskUsage,
    problems,
  };
}

export type AlertType = 'HOST_DOWN' | 'SSHD_DOWN' | 'SSH_LOGIN_FAILED' | 'CPU_HIGH' | 'MEM_HIGH' | 'DISK_HIGH';
export const ALERT_TYPES: readonly AlertType[] = ['HOST_DOWN', 'SSHD_DOWN', 'SSH_LOGIN_FAILED', 'CPU_HIGH', 'MEM_HIGH', 'DISK_HIGH'];

export interface Thresholds {
  cpu?: number;
  mem?: number;
  disk?: number;
}

export type ServerCheck =
  | { state: 'down'; reason: string }
  | { state: 'login-failed'; reason: string }
  | { state: 'up'; metrics: ServerMetrics };

/** The alerts that should be active for one server after a check, with the collector's messages. */
export function desiredAlerts(check: ServerCheck, t: Thresholds): Map<AlertType, string> {
  const out = new Map<AlertType, string>();
  if (check.state === 'down') {
    out.set('HOST_DOWN', 'Server unreachable');
    return out;
  }
  if (check.state === 'login-failed') {
    out.set('SSH_LOGIN_FAILED', `SSH login failed: ${check.reason}`.slice(0, 1000));
    return out;
  }
  const m = check.metrics;
  if (m.sshdStatus !== 'active') out.set('SSHD_DOWN', 'SSHD service is down');
  if (t.cpu !== undefined && m.cpuBusy >= t.cpu) out.set('CPU_HIGH', `CPU busy ${m.cpuBusy}% >= ${t.cpu}%`);
  if (t.mem !== undefined && m.memUsage >= t.mem) out.set('MEM_HIGH', `Memory usage ${m.memUsage}% >= ${t.mem}%`);
  if (t.disk !== undefined && m.diskUsage >= t.disk) out.set('DISK_HIGH', `Disk usage of / ${m.diskUsage}% >= ${t.disk}%`);
  return out;
}

/** One active alert per server and type: open what is newly true, clear what is no longer. */
export function planAlerts(active: ReadonlySet<string>, desired: ReadonlyMap<AlertType, string>): { open: { type: AlertType; message: string }[]; clear: string[] } {
  const open = [...desired].filter(([type]) => !active.has(type)).map(([type, message]) => ({ type, message }));
  const clear = [...active].filter((type) => (ALERT_TYPES as readonly string[]).includes(type) && !desired.has(type as AlertType));
  return { open, clear };
}
