// Shared benchmark helpers: timing whole commands and reporting ratios against the real alternative.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/labops.js', import.meta.url));

export interface BenchResult {
  name: string;
  /** measured values: *_ms, *_mib, counts */
  figures: Record<string, number>;
  /** labops / alternative; lower is better */
  ratios: Record<string, number>;
  /** the ratio each must stay at or below */
  targets?: Record<string, number>;
  notes?: string[];
}

export interface TimedRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  maxRssKiB?: number;
}

/** Runs a command and measures wall time; with GNU time available, also peak RSS. */
export function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdout, stderr }));
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Runs `node [--require rss-probe] bin/labops.js …` and reports wall time and the process's peak RSS in MiB. */
export async function timeLabops(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<TimedRun & { peakRssMiB: number; cpuMs: number }> {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'labops-rss-'));
  const file = join(dir, 'rss');
  try {
    const preload = fileURLToPath(new URL('./rss-probe.cjs', import.meta.url));
    const r = await timeCommand(process.execPath, ['--require', preload, BIN, ...args], { ...env, LABOPS_BENCH_RSS_FILE: file });
    let probe = { rssKiB: NaN, userMs: NaN, systemMs: NaN };
    try {
      probe = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      // the process died before writing it
    }
    return { ...r, peakRssMiB: probe.rssKiB / 1024, cpuMs: probe.userMs + probe.systemMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs bench/winrm-pywinrm.py (Debian's pywinrm, host after host) and returns its wall time in ms. */
export async function pywinrmSequential(hosts: { address: string; port: number; user: string; password: string }[], command: string[]): Promise<{ ms: number; ok: number; failed: number; exchangeMs: number; callsMs?: number[] }> {
  const { spawn } = await import('node:child_process');
  const script = fileURLToPath(new URL('./winrm-pywinrm.py', import.meta.url));
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/python3', [script, ...command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) return reject(new Error(`pywinrm baseline exited ${code}: ${err.trim().slice(-500)}`));
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as { ok: number; failed: number; seconds: number; calls_ms?: number[] };
      // exchangeMs: the script's own time for the WinRM work, after Python and its imports have started
      resolve({ ms, ok: r.ok, failed: r.failed, exchangeMs: r.seconds * 1000, callsMs: r.calls_ms });
    });
    child.stdin.end(JSON.stringify(hosts));
  });
}

export const TICKS = 100; // USER_HZ on Linux

/** A process's CPU (user + system clock ticks), RSS and peak RSS, from /proc. */
export function procStat(pid: number): { cpuTicks: number; rssKiB: number; hwmKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN),
    hwmKiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN),
  };
}
