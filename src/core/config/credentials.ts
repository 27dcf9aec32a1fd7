// WinRM credentials for a host: the inventory's own winrm_user/winrm_pass (v0 and env-refs forms), else
// the separate credentials file (head form: keyed by credential_ref, name or address), else the ops-worker's
// encrypted store, else the `winrm.user` / `winrm.password` settings. Passwords are resolved from references
// only here, when used.
import { readFileSync } from 'node:fs';
import * as z from 'zod'; // a namespace import lets the bundler drop zod's locales
import { UsageError } from '../../domain/errors.js';
import type { InventoryHost } from './inventory.js';
import { resolveSecret } from './secrets.js';
import { credentialRefOf, type WinrmStore } from './winrm-store.js';

export interface Credentials {
  user: string;
  password: string;
  /** where they came from, for messages (never the value) */
  source: string;
}

const entry = z.object({ user: z.string().min(1), password: z.string().min(1) });
const fileSchema = z.object({ default: entry.optional(), hosts: z.record(z.string(), entry).optional() });
export type CredentialsFile = z.infer<typeof fileSchema>;

export function loadCredentialsFile(path: string): CredentialsFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`credentials file ${path}: ${code ? `cannot read (${code})` : `not valid JSON: ${(e as Error).message}`}`);
  }
  const r = fileSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UsageError(`credentials file ${path}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return r.data;
}

export interface CredentialSources {
  file?: { path: string; data: CredentialsFile };
  /** the ops-worker's encrypted store (OPS_CREDENTIALS_PATH), by its reference: credential_ref, address, name */
  store?: WinrmStore;
  user?: string;
  password?: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveCredentials(host: InventoryHost, src: CredentialSources): Credentials {
  const env = src.env ?? process.env;
  if (host.winrmUser && host.winrmPass) {
    return {
      user: resolveSecret(host.winrmUser, `${host.name}: winrm_user`, env),
      password: resolveSecret(host.winrmPass, `${host.name}: winrm_pass`, env),
      source: 'inventory',
    };
  }
  const hosts = src.file?.data.hosts ?? {};
  const keys = [host.credentialRef, host.name, host.address].filter((k): k is string => Boolean(k));
  const lower = new Map(Object.entries(hosts).map(([k, v]) => [k.toLowerCase(), v]));
  for (const key of keys) {
    const e = lower.get(key.toLowerCase());
    if (e) {
      const where = `${src.file!.path}: hosts.${key}`;
      return { user: resolveSecret(e.user, `${where}.user`, env), password: resolveSecret(e.password, `${where}.password`, env), source: where };
    }
  }
  const stored = src.store?.byRef.get(credentialRefOf(host));
  if (stored) return { ...stored, source: `${src.store!.path}: ${credentialRefOf(host)}` };
  const d = src.file?.data.default;
  if (d) {
    const where = `${src.file!.path}: default`;
    return { user: resolveSecret(d.user, `${where}.user`, env), password: resolveSecret(d.password, `${where}.password`, env), source: where };
  }
  if (src.user && src.password) {
    return { user: src.user, password: resolveSecret(src.password, 'winrm.password', env), source: 'config' };
  }
  throw new UsageError(`no WinRM credentials for host '${host.name}'`, {
    suggestion: 'set winrm_user/winrm_pass (env:VAR) in hosts.json, a credentials file (LABOPS_CREDENTIALS), or winrm.user and winrm.password',
  });
}
