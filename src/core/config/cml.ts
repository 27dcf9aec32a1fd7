// The `cml` section of the config file: the CML controllers labops syncs.
//   "cml": { "servers": [ { "id": "cml-1", "name": "…", "url": "https://cml1.example", "username": "admin",
//            "password": "env:CML1_PASSWORD", "ca": "/etc/labops/cml1-ca.pem" } ] }
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as z from 'zod'; // a namespace import lets the bundler drop zod's locales
import { UsageError } from '../../domain/errors.js';
import { didYouMean } from '../../domain/closest-name.js';
import { configError, parseSection } from './structured.js';
import { resolveSecret } from './secrets.js';

export interface CmlServerConfig {
  id: string;
  name: string;
  url: string;
  username: string;
  /** the secret reference as written (env:/file:/literal) */
  password: string;
  /** the CA file path, resolved against the config file's directory */
  ca?: string;
  insecure: boolean;
  /** JSON path in the config file, for error messages */
  path: string;
}

export interface ResolvedCmlServer extends CmlServerConfig {
  passwordValue: string;
  caPem?: string;
}

const serverSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1–64 letters, digits, dots, dashes or underscores'),
    name: z.string().min(1).max(128).optional(),
    url: z
      .string()
      .refine((v) => {
        try {
          const u = new URL(v);
          return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search;
        } catch {
          return false;
        }
      }, 'expected the controller base URL, like https://cml.example (no credentials, no query)'),
    username: z.string().min(1).max(32),
    password: z.string().min(1, 'expected a secret reference such as env:CML_PASSWORD or file:/path'),
    ca: z.string().min(1).optional(),
    insecure: z.boolean().optional(),
  })
  .strict();

const sectionSchema = z.object({ servers: z.array(serverSchema).optional() }).loose();

/** The configured servers (validated, nothing resolved yet). A missing section is an empty list. */
export function parseCmlServers(raw: Record<string, unknown>, file: string | undefined): CmlServerConfig[] {
  if (raw.cml === undefined || raw.cml === null) return [];
  const section = parseSection(sectionSchema, raw.cml, file, 'cml');
  const out: CmlServerConfig[] = [];
  const seen = new Set<string>();
  (section.servers ?? []).forEach((s, i) => {
    const path = `cml.servers[${i}]`;
    if (seen.has(s.id)) throw configError(file, `${path}.id`, `duplicate server id '${s.id}'`);
    seen.add(s.id);
    if (s.ca && s.insecure) throw configError(file, path, 'give either ca or insecure: true, not both');
    out.push({
      id: s.id,
      name: s.name ?? s.id,
      url: s.url.replace(/\/+$/, ''),
      username: s.username,
      password: s.password,
      ca: s.ca ? resolve(file ? dirname(file) : process.cwd(), s.ca) : undefined,
      insecure: s.insecure ?? false,
      path,
    });
  });
  return out;
}

/** Picks servers by id (all when none given); unknown ids are a usage error listing the known ones. */
export function selectCmlServers(all: CmlServerConfig[], ids: readonly string[] | undefined, file: string | undefined): CmlServerConfig[] {
  if (all.length === 0) {
    throw new UsageError('no CML servers configured', { suggestion: `add a "cml": {"servers": [...]} section to ${file ?? 'the labops config file (--config)'}` });
  }
  if (!ids?.length) return all;
  return ids.map((id) => {
    const s = all.find((x) => x.id === id);
    if (!s) throw new UsageError(`unknown CML server '${id}'${didYouMean(id, all.map((x) => x.id))}`, { suggestion: `configured: ${all.map((x) => x.id).join(', ')}` });
    return s;
  });
}

/** Resolves the password reference and reads the CA file; errors name the file and JSON path. */
export function resolveCmlServer(s: CmlServerConfig, file: string | undefined, env: NodeJS.ProcessEnv): ResolvedCmlServer {
  let passwordValue: string;
  try {
    passwordValue = resolveSecret(s.password, `${file ? `config file ${file}: ` : ''}${s.path}.password`, env);
  } catch (e) {
    throw e instanceof UsageError ? e : configError(file, `${s.path}.password`, (e as Error).message);
  }
  let caPem: string | undefined;
  if (s.ca) {
    try {
      caPem = readFileSync(s.ca, 'utf8');
    } catch (e) {
      throw configError(file, `${s.path}.ca`, `cannot read ${s.ca} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw configError(file, `${s.path}.ca`, `${s.ca} holds no PEM certificate`);
  }
  return { ...s, passwordValue, caPem };
}
