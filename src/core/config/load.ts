// Config resolution: flags > environment > config file > defaults, with the source of every value kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../domain/errors.js';
import { parseDuration } from '../../domain/duration.js';
import { SETTINGS, xdgConfigHome, type SettingDef } from './settings.js';
import { redactSecret } from './secrets.js';

export type ValueSource =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'default' }
  | { kind: 'unset' };

export interface ResolvedSetting {
  key: string;
  value: string | undefined;
  source: ValueSource;
  secret: boolean;
}

export interface LoadConfigInput {
  /** values of global flags by setting key */
  flags?: Record<string, string | undefined>;
  /** --config; otherwise LABOPS_CONFIG; otherwise the XDG default (missing is fine) */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
}

export class LabopsConfig {
  constructor(
    private readonly values: Map<string, ResolvedSetting>,
    /** the config file that was read, if any */
    readonly file: string | undefined,
    /** the whole config file object, for structured sections (CML servers, alert rules, …) */
    readonly raw: Record<string, unknown>,
  ) {}

  get(key: string): string | undefined {
    return this.setting(key).value;
  }

  setting(key: string): ResolvedSetting {
    const v = this.values.get(key);
    if (!v) throw new Error(`unknown setting ${key}`);
    return v;
  }

  int(key: string): number | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : Number(v);
  }

  durationMs(key: string): number | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : parseDuration(v);
  }

  /** Every setting with its source; secrets shown as references or `<redacted>`. */
  entries(): ResolvedSetting[] {
    return [...this.values.values()].map((s) => (s.secret ? { ...s, value: redactSecret(s.value) } : s));
  }
}

function describeSource(s: ValueSource): string {
  switch (s.kind) {
    case 'flag':
      return s.name;
    case 'env':
      return `$${s.name}`;
    case 'file':
      return s.path;
    default:
      return s.kind;
  }
}

function checkValue(def: SettingDef, value: string, source: ValueSource): string {
  const where = `${def.key} (from ${describeSource(source)})`;
  switch (def.type) {
    case 'int':
      if (!/^\d+$/.test(value.trim())) throw new UsageError(`${where}: expected a whole number, got '${value}'`);
      return value.trim();
    case 'duration':
      if (parseDuration(value) === undefined) throw new UsageError(`${where}: expected a duration like 500ms, 5s or 2m, got '${value}'`);
      return value.trim();
    case 'bool':
      if (!/^(true|false|1|0|yes|no|on|off)$/i.test(value.trim())) throw new UsageError(`${where}: expected true or false, got '${value}'`);
      return value.trim().toLowerCase();
    default:
      return value;
  }
}

function flatten(obj: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out.set(key, v);
  }
  return out;
}

function readConfigFile(path: string, required: boolean): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new UsageError(`config file ${path}: cannot read (${code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new UsageError(`config file ${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`config file ${path}: the top level must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

export function loadConfig(input: LoadConfigInput = {}): LabopsConfig {
  const env = input.env ?? process.env;
  const flags = input.flags ?? {};
  const explicit = input.configPath ?? env.LABOPS_CONFIG;
  const path = explicit || join(xdgConfigHome(env), 'labops', 'config.json');
  const raw = readConfigFile(path, Boolean(explicit)) ?? {};
  const fromFile = flatten(raw);
  const values = new Map<string, ResolvedSetting>();

  for (const def of SETTINGS) {
    let resolved: ResolvedSetting = { key: def.key, value: undefined, source: { kind: 'unset' }, secret: def.type === 'secret' };
    const flagValue = flags[def.key];
    const envName = def.env.find((n) => env[n] !== undefined && env[n] !== '');
    if (flagValue !== undefined) {
      resolved = { ...resolved, value: flagValue, source: { kind: 'flag', name: def.flag ?? def.key } };
    } else if (envName) {
      resolved = { ...resolved, value: env[envName], source: { kind: 'env', name: envName } };
    } else if (fromFile.has(def.key) && fromFile.get(def.key) !== null) {
      const v = fromFile.get(def.key);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new UsageError(`config file ${path}: ${def.key}: expected a string or number`);
      }
      resolved = { ...resolved, value: String(v), source: { kind: 'file', path } };
    } else if (def.default) {
      const d = def.default(env);
      if (d !== undefined) resolved = { ...resolved, value: d, source: { kind: 'default' } };
    }
    if (resolved.value !== undefined) resolved.value = checkValue(def, resolved.value, resolved.source);
    values.set(def.key, resolved);
  }
  return new LabopsConfig(values, Object.keys(raw).length || explicit ? path : undefined, raw);
}

export { describeSource };
