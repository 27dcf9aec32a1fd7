// Config resolution: flags > environment > config file > defaults, with the source of every value kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../domain/errors.js';
import { parseDuration } from '../../domain/duration.js';
import { didYouMean } from '../../domain/closest-name.js';
import { SETTING_DEFS, defaultOf, xdgConfigHome, type SettingDef, type SettingKey, type SettingValue } from './settings.js';
import { redactSecret } from './secrets.js';

export type ValueSource =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'default' }
  | { kind: 'unset' };

export interface ResolvedSetting {
  key: string;
  /** the value as given (a secret: its reference); `entries()` redacts secrets */
  value: string | undefined;
  source: ValueSource;
  secret: boolean;
}

export interface LoadConfigInput {
  /** values of global flags by setting key */
  flags?: Partial<Record<SettingKey, string | undefined>>;
  /** --config; otherwise LABOPS_CONFIG; otherwise the XDG default, then the system one (missing is fine) */
  configPath?: string;
  /** the system-wide config file the Debian package installs (default /etc/labops/config.json) */
  systemConfigPath?: string;
  env?: NodeJS.ProcessEnv;
}

/** The config file of a package installation, read when the user has none of their own. */
export const SYSTEM_CONFIG = '/etc/labops/config.json';

/** Config-file sections that are not settings but structured data, read by their own parsers. */
const SECTIONS = ['cml.servers', 'notify'];

export class LabopsConfig {
  constructor(
    private readonly values: Map<string, ResolvedSetting & { parsed: unknown }>,
    /** the config file that was read, if any */
    readonly file: string | undefined,
    /** the whole config file object, for structured sections (CML servers, notify) */
    readonly raw: Record<string, unknown>,
    /** keys of the config file that are neither settings nor sections, each with the closest known key */
    readonly warnings: readonly string[] = [],
  ) {}

  /** The parsed value (durations in ms, ints and booleans as such), checked when the config was loaded. */
  value<K extends SettingKey>(key: K): SettingValue<K> {
    return this.resolved(key).parsed as SettingValue<K>;
  }

  /** The value as written, e.g. for messages that quote it. */
  get(key: SettingKey): string | undefined {
    return this.resolved(key).value;
  }

  setting(key: SettingKey): ResolvedSetting {
    const { parsed: _parsed, ...rest } = this.resolved(key);
    return rest;
  }

  private resolved(key: string): ResolvedSetting & { parsed: unknown } {
    const v = this.values.get(key);
    if (!v) throw new Error(`unknown setting ${key}`);
    return v;
  }

  /** Every setting with its source; secrets shown as references or `<redacted>`. */
  entries(): ResolvedSetting[] {
    return [...this.values.values()].map(({ parsed: _parsed, ...s }) => (s.secret ? { ...s, value: redactSecret(s.value) } : s));
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

function parseValue(def: SettingDef, value: string, source: ValueSource): { value: string; parsed: unknown } {
  const where = `${def.key} (from ${describeSource(source)})`;
  const v = value.trim();
  switch (def.type) {
    case 'int':
      if (!/^\d+$/.test(v)) throw new UsageError(`${where}: expected a whole number, got '${value}'`);
      return { value: v, parsed: Number(v) };
    case 'duration': {
      const ms = parseDuration(v);
      if (ms === undefined) throw new UsageError(`${where}: expected a duration like 500ms, 5s or 2m, got '${value}'`);
      return { value: v, parsed: ms };
    }
    case 'bool':
      if (!/^(true|false|1|0|yes|no|on|off)$/i.test(v)) throw new UsageError(`${where}: expected true or false, got '${value}'`);
      return { value: v.toLowerCase(), parsed: /^(true|1|yes|on)$/i.test(v) };
    case 'enum': {
      // any case: the upstream variables spell their values in capitals (OPS_LOG_LEVEL=INFO)
      const choice = def.choices?.find((c) => c.toLowerCase() === v.toLowerCase());
      if (!choice) throw new UsageError(`${where}: expected ${def.choices?.join(' or ')}, got '${value}'`);
      return { value: choice, parsed: choice };
    }
    default:
      return { value, parsed: value };
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
  const flags: Partial<Record<string, string | undefined>> = input.flags ?? {};
  const explicit = input.configPath ?? env.LABOPS_CONFIG;
  // the user's config, else the system's (as root at a shell, the same config the services use)
  const candidates = explicit ? [explicit] : [join(xdgConfigHome(env), 'labops', 'config.json'), input.systemConfigPath ?? SYSTEM_CONFIG];
  let path = candidates[0]!;
  let raw: Record<string, unknown> = {};
  for (const c of candidates) {
    const found = readConfigFile(c, Boolean(explicit));
    if (found) {
      path = c;
      raw = found;
      break;
    }
  }
  const fromFile = flatten(raw);
  const values = new Map<string, ResolvedSetting & { parsed: unknown }>();

  for (const def of SETTING_DEFS) {
    let resolved: ResolvedSetting = { key: def.key, value: undefined, source: { kind: 'unset' }, secret: def.type === 'secret' };
    const flagValue = flags[def.key];
    const envName = def.env.find((n) => env[n] !== undefined && env[n] !== '');
    let composed: { value: string; name: string } | undefined;
    if (flagValue !== undefined) {
      resolved = { ...resolved, value: flagValue, source: { kind: 'flag', name: def.flag ?? def.key } };
    } else if (envName) {
      // a secret's <NAME>_FILE variable names the file with the value (the upstream convention): a file: reference
      const value = def.type === 'secret' && envName.endsWith('_FILE') ? `file:${env[envName]}` : env[envName];
      resolved = { ...resolved, value, source: { kind: 'env', name: envName } };
    } else if ((composed = def.fromEnv?.(env))) {
      resolved = { ...resolved, value: composed.value, source: { kind: 'env', name: composed.name } };
    } else if (fromFile.has(def.key) && fromFile.get(def.key) !== null) {
      const v = fromFile.get(def.key);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new UsageError(`config file ${path}: ${def.key}: expected a string or number`);
      }
      resolved = { ...resolved, value: String(v), source: { kind: 'file', path } };
    } else {
      const d = defaultOf(def, env);
      if (d !== undefined) resolved = { ...resolved, value: d, source: { kind: 'default' } };
    }
    const checked = resolved.value === undefined ? { value: undefined, parsed: undefined } : parseValue(def, resolved.value, resolved.source);
    values.set(def.key, { ...resolved, ...checked });
  }
  const known = SETTING_DEFS.map((d) => d.key);
  const warnings: string[] = [];
  for (const key of fromFile.keys()) {
    if (values.has(key) || SECTIONS.some((s) => key === s || key.startsWith(`${s}.`))) continue;
    warnings.push(`config file ${path}: unknown key '${key}'${didYouMean(key, [...known, ...SECTIONS])}; ignored`);
  }
  return new LabopsConfig(values, Object.keys(raw).length || explicit || path !== candidates[0] ? path : undefined, raw, warnings);
}

export { describeSource };
