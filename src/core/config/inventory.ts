// The host inventory: the seed hosts.json in all its historical forms (plaintext credentials,
// env:VAR references, no credentials), validated with zod and normalised.
import { readFileSync } from 'node:fs';
import * as z from 'zod'; // a namespace import lets the bundler drop zod's locales
import { UsageError } from '../../domain/errors.js';
import { parseMac } from '../../domain/mac.js';
import { parseProbeSpec, type ProbeSpec } from '../../domain/probe-spec.js';
import { secretKind } from './secrets.js';
import { executableProblem } from '../../domain/winrs-command-line.js';
import { isHostAddress } from '../net/address.js';
import { isIP } from 'node:net';

export const DEFAULT_LABSTATION_EXE = 'C:\\LabStation\\LabStation.exe';
export const DEFAULT_HEARTBEAT_PATH = 'C:\\LabStation\\labstation\\data\\telemetry\\heartbeat.json';
export const DEFAULT_EVENTS_PATH = 'C:\\LabStation\\labstation\\data\\telemetry\\session-guard-events.jsonl';
export const DEFAULT_LOCAL_MODE_FLAG_PATH = 'C:\\LabStation\\labstation\\data\\local-mode.flag';

export interface InventoryHost {
  name: string;
  address: string;
  mac?: string;
  winrmUser?: string;
  /** a secret reference or, in old inventories, a plaintext password; resolved only when used */
  winrmPass?: string;
  winrmTransport: string;
  winrmPort?: number;
  winrmUseSsl?: boolean;
  labstationExe: string;
  heartbeatPath: string;
  eventsPath: string;
  /** head: the file whose existence is local mode (POST /api/hosts/local-mode writes or removes it); default DEFAULT_LOCAL_MODE_FLAG_PATH */
  localModeFlagPath?: string;
  /** head: the catalog's `mode`, shown by GET /api/hosts as it is */
  mode?: string;
  pingTarget?: string;
  broadcast?: string;
  wolPort?: number;
  wakeAttempts?: number;
  /** lab ids, trimmed and lower-cased as upstream does */
  labs: string[];
  /** labops extension: how to check the host is up */
  probe?: ProbeSpec;
  credentialRef?: string;
  quarantined: boolean;
}

export interface Inventory {
  /** the file it came from; undefined for an absent default inventory */
  file: string | undefined;
  hosts: InventoryHost[];
  warnings: string[];
}

const port = z.coerce.number().int().min(1).max(65535);

// Inventory values reach programs, sockets, path templates and PowerShell: each is checked when the inventory loads,
// as a flag would be, so a bad one is exit 2 naming its JSON path before anything is sent or run.
const hasControl = (v: string) => [...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
const hostName = z
  .string()
  .trim()
  .min(1, 'must be a non-empty string')
  .refine((v) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(v), { message: "is not a host name: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit (it keys database rows and fills {host} in path templates)" });
const hostAddress = (what: string) =>
  z.string().trim().min(1, 'must be a non-empty string').refine(isHostAddress, { message: `is not ${what}: an IP address or a DNS host name (letters, digits, '-' and '.')` });
/** An absolute Windows path without `..` segments or control characters (read over WinRM, or mapped onto a share by {winpath}). */
const windowsPath = z
  .string()
  .refine((v) => /^(?:[A-Za-z]:[\\/]|\\\\)/.test(v) && !hasControl(v) && !v.split(/[\\/]+/).includes('..'), { message: 'is not an absolute Windows path (C:\\… or \\\\server\\share\\…, no \'..\' segments)' });
const plainText = z.string().refine((v) => !hasControl(v) && v.length <= 256, { message: 'must be at most 256 characters without control characters' });

const hostSchema = z.looseObject({
  name: hostName,
  address: hostAddress('a host address'),
  mac: z
    .string()
    .optional()
    .nullable()
    .refine((v) => v == null || v === '' || parseMac(v) !== undefined, { message: 'is not a MAC address' }),
  winrm_user: plainText.optional().nullable(),
  winrm_pass: z.string().optional().nullable(),
  winrm_transport: z.string().optional().nullable(),
  winrm_port: port.optional().nullable(),
  winrm_use_ssl: z.boolean().optional().nullable(),
  labstation_exe: z
    .string()
    .optional()
    .nullable()
    .refine((v) => v == null || executableProblem(normaliseWindowsPath(v)) === undefined, { message: "is not a LabStation.exe path the WinRS cmd shell can start unquoted (C:\\…\\LabStation.exe; letters, digits and \\ : . _ - ~ only)" }),
  heartbeat_path: windowsPath.optional().nullable(),
  events_path: windowsPath.optional().nullable(),
  local_mode_flag_path: windowsPath.optional().nullable(),
  mode: z.string().optional().nullable(),
  ping_target: hostAddress('a probe target').optional().nullable(),
  broadcast: z.string().trim().refine((v) => isIP(v) !== 0, { message: 'is not an IPv4 or IPv6 address' }).optional().nullable(),
  wol_port: port.optional().nullable(),
  wake_attempts: z.coerce.number().int().min(1).max(100).optional().nullable(),
  labs: z.array(z.union([z.string(), z.number()])).optional().nullable(),
  probe: z
    .string()
    .optional()
    .nullable()
    .refine((v) => v == null || parseProbeSpec(v) !== undefined, { message: "must be 'icmp' or 'tcp:<port>'" }),
  credential_ref: plainText.optional().nullable(),
  quarantined: z.boolean().optional().nullable(),
});

const inventorySchema = z.object({ hosts: z.array(z.unknown()) });

/** Collapses the doubled backslashes of the seed samples, keeping a UNC path's leading `\\`. */
export function normaliseWindowsPath(p: string): string {
  const unc = p.startsWith('\\\\') && !/^\\\\+[A-Za-z]:/.test(p);
  const collapsed = p.replace(/\\{2,}/g, '\\');
  return unc ? `\\${collapsed.startsWith('\\') ? collapsed : `\\${collapsed}`}` : collapsed;
}

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(top level)';
}

/** The inventory's problems, all at once (an operator fixes them in one go), the first few in the message. */
function failAll(file: string, problems: readonly { path: readonly PropertyKey[]; message: string }[]): never {
  const lines = problems.map((p) => `${jsonPath(p.path)}: ${p.message}`);
  const shown = lines.length > 10 ? [...lines.slice(0, 10), `… and ${lines.length - 10} more`] : lines;
  throw new UsageError(lines.length === 1 ? `inventory ${file}: ${lines[0]}` : `inventory ${file}: ${lines.length} problems:\n  ${shown.join('\n  ')}`, {
    suggestion: 'fix the inventory file; nothing was run',
    context: { file, path: jsonPath(problems[0]!.path), problems: lines },
  });
}

export function parseInventory(text: string, file: string): Inventory {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    failAll(file, [{ path: [], message: `not valid JSON: ${(e as Error).message}` }]);
  }
  const top = inventorySchema.safeParse(data);
  if (!top.success) {
    const issue = top.error.issues[0]!;
    failAll(file, [{ path: issue.path, message: issue.path.length ? issue.message : 'expected an object {"hosts": [...]}' }]);
  }
  const hosts: InventoryHost[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  const problems: { path: readonly PropertyKey[]; message: string }[] = [];
  let plaintext = 0;
  top.data.hosts.forEach((entry, i) => {
    const r = hostSchema.safeParse(entry);
    if (!r.success) for (const issue of r.error.issues) problems.push({ path: ['hosts', i, ...issue.path], message: issue.message });
    const name = (entry as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && name.trim()) {
      const key = name.trim().toLowerCase();
      if (seen.has(key)) problems.push({ path: ['hosts', i, 'name'], message: `duplicate host name '${name.trim()}' (also hosts[${seen.get(key)}]; names are case-insensitive)` });
      else seen.set(key, i);
    }
    if (!r.success) return;
    const h = r.data;
    if (h.winrm_pass && secretKind(h.winrm_pass) === 'literal') plaintext++;
    hosts.push({
      name: h.name,
      address: h.address,
      mac: h.mac ? parseMac(h.mac) : undefined,
      winrmUser: h.winrm_user ?? undefined,
      winrmPass: h.winrm_pass ?? undefined,
      winrmTransport: (h.winrm_transport ?? 'ntlm').toLowerCase(),
      winrmPort: h.winrm_port ?? undefined,
      winrmUseSsl: h.winrm_use_ssl ?? undefined,
      labstationExe: normaliseWindowsPath(h.labstation_exe ?? DEFAULT_LABSTATION_EXE),
      heartbeatPath: normaliseWindowsPath(h.heartbeat_path ?? DEFAULT_HEARTBEAT_PATH),
      eventsPath: normaliseWindowsPath(h.events_path ?? DEFAULT_EVENTS_PATH),
      localModeFlagPath: h.local_mode_flag_path ? normaliseWindowsPath(h.local_mode_flag_path) : undefined,
      mode: h.mode ?? undefined,
      pingTarget: h.ping_target ?? undefined,
      broadcast: h.broadcast ?? undefined,
      wolPort: h.wol_port ?? undefined,
      wakeAttempts: h.wake_attempts ?? undefined,
      labs: (h.labs ?? []).map((l) => String(l).trim().toLowerCase()).filter(Boolean),
      probe: h.probe ? parseProbeSpec(h.probe) : undefined,
      credentialRef: h.credential_ref ?? undefined,
      quarantined: h.quarantined ?? false,
    });
  });
  if (problems.length) failAll(file, problems);
  if (plaintext) {
    warnings.push(`${file}: ${plaintext} host(s) keep winrm_pass in plain text; prefer "env:VAR" or "file:/path" references`);
  }
  return { file, hosts, warnings };
}

/**
 * Loads the inventory. An explicitly named file must exist; the default path may be absent, which
 * gives an empty inventory with a warning, as the ops-worker does.
 */
export function loadInventory(path: string, explicit: boolean): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return { file: undefined, hosts: [], warnings: [`no inventory at ${path}; the host list is empty`] };
    throw new UsageError(`inventory ${path}: cannot read (${code ?? 'error'})`, { suggestion: 'pass --hosts <file> or set OPS_CONFIG' });
  }
  return parseInventory(text, path);
}

export class HostIndex {
  private readonly byName = new Map<string, InventoryHost>();
  private readonly byLab = new Map<string, InventoryHost>();
  constructor(readonly inventory: Inventory) {
    for (const h of inventory.hosts) {
      this.byName.set(h.name.toLowerCase(), h);
      // The first host wins for a lab id, as upstream.
      for (const lab of h.labs) if (!this.byLab.has(lab)) this.byLab.set(lab, h);
    }
  }
  get hosts(): InventoryHost[] {
    return this.inventory.hosts;
  }
  find(name: string): InventoryHost | undefined {
    return this.byName.get(name.trim().toLowerCase());
  }
  forLab(labId: string): InventoryHost | undefined {
    return this.byLab.get(labId.trim().toLowerCase());
  }
}
