// A WinRM client for an inventory host: transport, port and TLS from flags over the inventory, credentials
// from the inventory, the credentials file or the settings (never from argv).
import { readFileSync } from 'node:fs';
import { UsageError } from '../../domain/errors.js';
import type { InventoryHost } from '../config/inventory.js';
import { resolveCredentials, loadCredentialsFile, type CredentialSources } from '../config/credentials.js';
import type { LabopsConfig } from '../config/load.js';
import { WinRMClient } from './client.js';
import type { AuthMethod } from './transport.js';

export interface WinRMOverrides {
  transport?: AuthMethod;
  ssl?: boolean;
  port?: number;
  user?: string;
  /** file holding the password (--password-file) */
  passwordFile?: string;
  /** a password the operator typed at a prompt */
  password?: string;
  ca?: string;
  insecure?: boolean;
  timeoutMs?: number;
}

export function credentialSources(cfg: LabopsConfig, env: NodeJS.ProcessEnv): CredentialSources {
  const file = cfg.get('credentials');
  return { file: file ? { path: file, data: loadCredentialsFile(file) } : undefined, user: cfg.get('winrm.user'), password: cfg.get('winrm.password'), env };
}

export function winrmClientFor(host: InventoryHost, o: WinRMOverrides, sources: CredentialSources): WinRMClient {
  const transport = (o.transport ?? host.winrmTransport) as AuthMethod;
  if (transport !== 'ntlm' && transport !== 'basic') {
    throw new UsageError(`host '${host.name}': WinRM transport '${transport}' is not supported (ntlm or basic; Kerberos and CredSSP are out of scope)`);
  }
  const ssl = o.ssl ?? host.winrmUseSsl ?? (host.winrmPort === 5986 ? true : false);
  let user: string;
  let password: string;
  if (o.user || o.passwordFile || o.password) {
    const base = o.user && (o.passwordFile || o.password) ? undefined : resolveCredentials(host, sources);
    user = o.user ?? base!.user;
    if (o.password !== undefined) password = o.password;
    else if (o.passwordFile) {
      try {
        password = readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new UsageError(`--password-file ${o.passwordFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    } else password = base!.password;
  } else {
    ({ user, password } = resolveCredentials(host, sources));
  }
  return new WinRMClient({
    host: host.address,
    port: o.port ?? host.winrmPort ?? (ssl ? 5986 : 5985),
    ssl,
    transport,
    user,
    password,
    caFile: o.ca,
    insecure: o.insecure,
    timeoutMs: o.timeoutMs,
  });
}
