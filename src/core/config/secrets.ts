// Secret references: `env:NAME` and `file:/path` work everywhere a secret is accepted; anything else is a
// literal. Errors name the reference, never a value.
import { readFileSync } from 'node:fs';
import { UsageError } from '../../domain/errors.js';
import type { LabopsConfig } from './load.js';

export type SecretKind = 'env' | 'file' | 'literal';

export function secretKind(ref: string): SecretKind {
  if (ref.startsWith('env:')) return 'env';
  if (ref.startsWith('file:')) return 'file';
  return 'literal';
}

/** Resolves a secret reference; `what` names the setting for error messages. */
export function resolveSecret(ref: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const kind = secretKind(ref);
  if (kind === 'env') {
    const name = ref.slice(4);
    const value = env[name];
    if (value === undefined || value === '') {
      throw new UsageError(`${what}: environment variable ${name} is not set`, { suggestion: `export ${name}=… or use file:/path` });
    }
    return value;
  }
  if (kind === 'file') {
    const path = ref.slice(5);
    try {
      // One trailing newline is an editor artefact, not part of the secret.
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new UsageError(`${what}: cannot read secret file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return ref;
}

/** What `config show` and logs print in place of a secret. */
export function redactSecret(ref: string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  const kind = secretKind(ref);
  return kind === 'literal' ? '<redacted>' : `${ref} (reference)`;
}

/** The database password of the db-password setting (--db-password-file, LABOPS_DB_PASSWORD[_FILE]), if one is set. */
export function dbPassword(cfg: LabopsConfig, env: NodeJS.ProcessEnv): string | undefined {
  const ref = cfg.value('db-password');
  return ref === undefined ? undefined : resolveSecret(ref, 'db-password', env);
}
