// service-state.ini (IniWrite: UTF-16LE with BOM, CRLF). Values read back the station's way: true/on/1 →
// true, false/off/0 → false, integers → numbers, the rest strings. Fills `operations` when a heartbeat
// lacks that block.
import { decodeStationText } from './decode.js';

export type IniValue = string | number | boolean;

export function parseServiceStateIni(bytes: Uint8Array): Record<string, Record<string, IniValue>> {
  const text = decodeStationText(bytes);
  const out: Record<string, Record<string, IniValue>> = {};
  let section: Record<string, IniValue> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = out[s[1]!.trim()] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !section) throw new Error(`service-state.ini: unexpected line '${line.slice(0, 40)}'`);
    const key = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    section[key] = /^(true|on|1)$/i.test(v) ? true : /^(false|off|0)$/i.test(v) ? false : /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

const SECTION_TO_OPERATION: Record<string, string> = {
  'prepare-session': 'lastPrepareSession',
  'release-session': 'lastReleaseSession',
  'forced-logoff': 'lastForcedLogoff',
  'power-action': 'lastPowerAction',
  'safeguard-reboot': 'lastSafeguardReboot',
};

/** The `operations` block the station would have written from this INI. */
export function operationsFromServiceState(ini: Record<string, Record<string, IniValue>>): Record<string, unknown> {
  const ops: Record<string, unknown> = {};
  for (const [section, name] of Object.entries(SECTION_TO_OPERATION)) ops[name] = ini[section] ? { ...ini[section] } : [];
  return ops;
}
