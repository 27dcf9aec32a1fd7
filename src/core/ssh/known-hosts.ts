// OpenSSH known_hosts verification for ssh2, which only hands us the server's key blob. Written here
// because no maintained npm package verifies known_hosts (hashed names, [host]:port, patterns, markers).
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';

export interface KnownHostEntry {
  line: number;
  marker: '@revoked' | '@cert-authority' | null;
  patterns: string;
  keyType: string;
  keyBase64: string;
}

export type HostKeyCheck =
  | { status: 'ok' }
  | { status: 'unknown' }
  | { status: 'revoked'; line: number }
  | { status: 'changed'; line: number; knownType: string };

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's SHA256 fingerprint of a key blob. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name at the start of an SSH public key blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('|');
  // |1|salt|hash
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/** OpenSSH semantics: any negated match excludes the line; otherwise one positive match is enough. */
export function patternsMatch(patterns: string, host: string, port: number): boolean {
  const name = knownHostName(host, port);
  if (patterns.startsWith('|')) return hashedMatches(patterns, name);
  let positive = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const p = negated ? raw.slice(1) : raw;
    if (!p) continue;
    if (globToRegExp(p).test(name)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    if (fields.length < 3) return;
    out.push({ line: i + 1, marker, patterns: fields[0]!, keyType: fields[1]!, keyBase64: fields[2]! });
  });
  return out;
}

export class KnownHosts {
  constructor(
    readonly path: string,
    readonly entries: KnownHostEntry[],
  ) {}

  static load(path: string): KnownHosts {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return new KnownHosts(path, parseKnownHosts(text));
  }

  private forHost(host: string, port: number): KnownHostEntry[] {
    return this.entries.filter((e) => patternsMatch(e.patterns, host, port));
  }

  /** Key types known for this host, so the handshake can ask for one of them first (as OpenSSH does). */
  knownKeyTypes(host: string, port: number): string[] {
    return [...new Set(this.forHost(host, port).filter((e) => e.marker === null).map((e) => e.keyType))];
  }

  check(host: string, port: number, keyBlob: Buffer): HostKeyCheck {
    const b64 = keyBlob.toString('base64');
    const entries = this.forHost(host, port);
    const revoked = this.entries.find((e) => e.marker === '@revoked' && e.keyBase64 === b64);
    if (revoked) return { status: 'revoked', line: revoked.line };
    const plain = entries.filter((e) => e.marker === null);
    if (plain.some((e) => e.keyBase64 === b64)) return { status: 'ok' };
    if (plain.length === 0) return { status: 'unknown' };
    const type = keyTypeOf(keyBlob);
    const sameType = plain.find((e) => e.keyType === type) ?? plain[0]!;
    return { status: 'changed', line: sameType.line, knownType: sameType.keyType };
  }
}

/** The ssh2 host key algorithms to offer, known types first so a known key is the one presented. */
export function preferredHostKeyAlgorithms(knownTypes: string[]): string[] | undefined {
  if (knownTypes.length === 0) return undefined;
  const expand = (t: string) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]);
  return [...new Set(knownTypes.flatMap(expand))];
}

let appendChain: Promise<unknown> = Promise.resolve();

/**
 * Appends `host key` to the file atomically (core/fs writeFileAtomic), after
 * re-reading it so concurrent accept-new connections in this process never write a line twice.
 */
export function appendKnownHost(path: string, host: string, port: number, keyBlob: Buffer): Promise<void> {
  const next = appendChain.then(() => {
    const current = KnownHosts.load(path);
    if (current.check(host, port, keyBlob).status === 'ok') return;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      // a new file
    }
    if (text && !text.endsWith('\n')) text += '\n';
    text += `${knownHostName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`;
    // an existing file keeps its mode; a new one is private
    writeFileAtomic(path, text, { mode: 0o600 });
  });
  appendChain = next.catch(() => {});
  return next;
}
