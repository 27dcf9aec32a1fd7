// Structured config sections (lists of servers, hooks) validated with zod. Errors name the file and the
// JSON path of the offending value, e.g. `config file /etc/labops.json: cml.servers[1].url: …`.
import type { z } from 'zod';
import { UsageError } from '../../domain/errors.js';

export function jsonPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out;
}

export function configError(file: string | undefined, path: string, message: string, suggestion?: string): UsageError {
  return new UsageError(`${file ? `config file ${file}` : 'config'}: ${path}: ${message}`, suggestion ? { suggestion } : {});
}

export function parseSection<S extends z.ZodType>(schema: S, value: unknown, file: string | undefined, base: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw configError(file, jsonPath(base, issue.path), issue.message);
}
