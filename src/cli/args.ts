// Argument parsers for commander: each rejects bad input at parse time with a usage error (exit 2).
import { InvalidArgumentError } from 'commander';
import { isIP } from 'node:net';
import { parseDuration } from '../domain/duration.js';
import { UsageError } from '../domain/errors.js';
import { parseProbeSpec, type ProbeSpec } from '../domain/probe-spec.js';

export function intArg(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

export function durationArg(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration like 500ms, 5s or 2m');
  return ms;
}

export function probeArg(v: string): ProbeSpec {
  const p = parseProbeSpec(v);
  if (!p) throw new InvalidArgumentError("expected 'icmp' or 'tcp:<port>'");
  return p;
}

export function ipArg(v: string): string {
  if (!isIP(v.trim())) throw new InvalidArgumentError('expected an IPv4 or IPv6 address');
  return v.trim();
}

/** --watch [interval]: the flag alone is every 2 s. */
export function watchInterval(v: string | boolean | undefined): number | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return 2000;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 200) throw new UsageError(`--watch '${v}': expected an interval like 2s or 500ms (at least 200ms)`);
  return ms;
}

export function floatArg(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n > 0)) throw new InvalidArgumentError('expected a positive number');
  return n;
}
