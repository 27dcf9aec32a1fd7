// Shared benchmark helpers: timing whole commands and reporting ratios against the real alternative.
import { spawn } from 'node:child_process';
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
