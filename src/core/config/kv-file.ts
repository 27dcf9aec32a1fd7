// The KEY=VALUE files of the DC side (/etc/linbo-docker-dhcp.conf, /etc/macct-worker.conf).
// Hand-written: the formats are shell-ish but not shell, and the quirks below are part of the contract.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../domain/errors.js';

export interface KvEntry {
  key: string;
  value: string;
  line: number;
}

/**
 * Parses KEY=VALUE lines: trimmed, blank and `#` lines skipped, `export ` allowed, split at the first
 * `=`, surrounding quotes removed. With shellComments an unquoted value ends at ` #`, as bash reads it
 * (the hook `source`s its file); the worker's Python parser keeps the rest of the line.
 */
export function parseKv(text: string, opts: { shellComments?: boolean } = {}): KvEntry[] {
  const out: KvEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let s = lines[i]!.trim();
    if (!s || s.startsWith('#')) continue;
    if (s.startsWith('export ')) s = s.slice(7).trim();
    const eq = s.indexOf('=');
    if (eq <= 0) continue;
    const key = s.slice(0, eq).trim();
    let value = s.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    else {
      if (opts.shellComments) value = value.replace(/\s+#.*$/, '');
      value = value.replace(/^["']+|["']+$/g, '');
    }
    out.push({ key, value, line: i + 1 });
  }
  return out;
}

/** Reads a KV file; undefined when it does not exist. Unreadable or non-UTF-8 files are input errors. */
export function readKvFile(path: string, opts: { shellComments?: boolean } = {}): KvEntry[] | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${path} is not valid UTF-8`);
  }
  return parseKv(text, opts);
}
