// Which hosts the DHCP hook patches (NOTES §6.4): delta rows with ≥11 fields, a valid host name and a
// numeric pxe flag ≥ 1. labops rejects short rows instead of skipping them silently.
import type { DevicesFile } from './parse.js';

export interface PxeSelection {
  /** lowercase host names, in delta order, without duplicates */
  hosts: string[];
  /** rows too short to carry a pxe flag: input errors */
  shortRows: { line: number; fields: number }[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/;

export function selectPxeHosts(delta: DevicesFile): PxeSelection {
  const hosts: string[] = [];
  const seen = new Set<string>();
  const shortRows: PxeSelection['shortRows'] = [];
  for (const l of delta.lines) {
    if (l.kind !== 'row') continue;
    const f = l.fields;
    if (f.length < 11) {
      shortRows.push({ line: l.lineNo, fields: f.length });
      continue;
    }
    const name = f[1]!;
    const pxe = f[10]!;
    if (!NAME_RE.test(name) || !/^\d+$/.test(pxe) || Number(pxe) < 1) continue;
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    hosts.push(key);
  }
  return { hosts, shortRows };
}
