// The environment of a child process, built for it: labops' own environment carries secrets (LABOPS_DB with its
// password, OPS_INTERNAL_AUTH_TOKEN, LABOPS_WINRM_PASSWORD, the worker's API_KEY and REDIS_PASSWORD from its
// EnvironmentFile, CML passwords behind env: references), and a child inherits none of them. It gets the search
// path, the locale, the home and temp directories, and only what the caller names for it.

/** Variables every child keeps: where programs are, the language and time zone, home and temp directories. */
const BASE = ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LANGUAGE'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ChildEnvOptions {
  /** more variables to copy from `from` when set there (not secrets: the caller names what the child needs) */
  pass?: readonly string[];
  /** variables set for the child */
  set?: Readonly<Record<string, string>>;
}

export function childEnv(from: NodeJS.ProcessEnv, o: ChildEnvOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of [...BASE, ...(o.pass ?? [])]) if (from[name] !== undefined) env[name] = from[name];
  for (const name of Object.keys(from)) if (name.startsWith('LC_')) env[name] = from[name];
  env.PATH ??= DEFAULT_PATH;
  return { ...env, ...o.set };
}
