// The head ops-worker's encrypted WinRM credential store (reference HEAD-API §7): `{"credentials": {"<ref>":
// {"token": "<Fernet token>"}}}`, each token the Fernet encryption of `{"user", "password"}` under
// OPS_SECRETS_KEY. labops reads it, so a Lab Gateway's stored credentials keep working; it never writes it.
// Fernet is a public spec (AES-128-CBC + HMAC-SHA256) that node:crypto covers in a few lines; no library needed.
import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../domain/errors.js';

export interface StoredCredential {
  user: string;
  password: string;
}

export interface WinrmStore {
  path: string;
  /** by the trimmed, lower-cased credential reference */
  byRef: Map<string, StoredCredential>;
  /** refs whose entry counts as missing (no token, wrong key, tampered, not user+password), never a value */
  unreadable: string[];
}

function fernetKey(key: string): { sign: Buffer; encrypt: Buffer } | undefined {
  const k = Buffer.from(key.trim(), 'base64url');
  if (k.length !== 32 || !/^[A-Za-z0-9_-]+=*$/.test(key.trim())) return undefined;
  return { sign: k.subarray(0, 16), encrypt: k.subarray(16) };
}

/** A Fernet token's plaintext, or undefined when the token is malformed or not made with this key (no TTL, as upstream). */
export function fernetDecrypt(token: string, key: { sign: Buffer; encrypt: Buffer }): Buffer | undefined {
  const data = Buffer.from(token.trim(), 'base64url');
  // version, 8-byte timestamp, 16-byte IV, at least one AES block, 32-byte HMAC
  if (data.length < 1 + 8 + 16 + 16 + 32 || data[0] !== 0x80 || (data.length - 57) % 16 !== 0) return undefined;
  const signed = data.subarray(0, data.length - 32);
  const mac = createHmac('sha256', key.sign).update(signed).digest();
  if (!timingSafeEqual(mac, data.subarray(data.length - 32))) return undefined;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encrypt, data.subarray(9, 25));
    return Buffer.concat([decipher.update(data.subarray(25, data.length - 32)), decipher.final()]);
  } catch {
    return undefined;
  }
}

function readStoreFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    throw new UsageError(`winrm.store ${path}: cannot read (${code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new UsageError(`winrm.store ${path}: not valid JSON: ${(e as Error).message}`);
  }
  const credentials = data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>).credentials : undefined;
  return credentials && typeof credentials === 'object' && !Array.isArray(credentials) ? (credentials as Record<string, unknown>) : {};
}

function decryptEntry(entry: unknown, key: { sign: Buffer; encrypt: Buffer }): StoredCredential | undefined {
  const token = entry && typeof entry === 'object' ? (entry as Record<string, unknown>).token : undefined;
  if (typeof token !== 'string') return undefined;
  const plain = fernetDecrypt(token, key);
  if (!plain) return undefined;
  try {
    const o = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
    return typeof o.user === 'string' && o.user && typeof o.password === 'string' && o.password ? { user: o.user, password: o.password } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the store. A missing file is an empty store (as upstream); entries without a key, or a key that is not a
 * Fernet key, are refused (upstream aborted its start on the first and silently lost every credential on the second).
 */
export function loadWinrmStore(path: string, key: string | undefined, keyWhere = 'winrm.store-key'): WinrmStore {
  const entries = Object.entries(readStoreFile(path));
  const store: WinrmStore = { path, byRef: new Map(), unreadable: [] };
  if (entries.length === 0) return store;
  if (!key) throw new UsageError(`winrm.store ${path} holds ${entries.length} credential(s) but ${keyWhere} (OPS_SECRETS_KEY or OPS_SECRETS_KEY_FILE) is not set`);
  const k = fernetKey(key);
  if (!k) throw new UsageError(`${keyWhere}: not a Fernet key (32 bytes in URL-safe base64, 44 characters)`);
  for (const [ref, entry] of entries) {
    const c = decryptEntry(entry, k);
    if (c) store.byRef.set(ref.trim().toLowerCase(), c);
    else store.unreadable.push(ref);
  }
  return store;
}

/** The ops-worker's reference of a host: credential_ref, else address, else name; trimmed and lower-cased. */
export function credentialRefOf(h: { credentialRef?: string; address: string; name: string }): string {
  return (h.credentialRef || h.address || h.name).trim().toLowerCase();
}
