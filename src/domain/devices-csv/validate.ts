// Validation with the rules of sophomorix-device and linuxmuster-import-devices (NOTES §4.2, §4.5).
// Errors are what makes sophomorix-device stop (exit 88, die, or a counted error that stops before
// --sync); warnings are rows import-devices silently skips (no DHCP entry, no LINBO links).
import type { DevicesFile } from './parse.js';

export type Severity = 'error' | 'warning';

export interface DeviceProblem {
  line: number;
  severity: Severity;
  message: string;
}

/** sophomorix.ini device roles (COMPUTER_ACCOUNT=TRUE first). */
export const COMPUTER_ROLES = ['classroom-studentcomputer', 'classroom-teachercomputer', 'faculty-teachercomputer', 'staffcomputer', 'server', 'addc', 'printer', 'mobile'] as const;
export const NON_COMPUTER_ROLES = ['iponly', 'thinclient', 'voip', 'byod', 'router', 'wlan', 'switch'] as const;
const ROLES = new Set<string>([...COMPUTER_ROLES, ...NON_COMPUTER_ROLES]);

/** Whether sophomorix creates an AD computer object for a role ('' means the default role). */
export function roleHasComputerAccount(role: string): boolean {
  return role === '' || (COMPUTER_ROLES as readonly string[]).includes(role);
}

const HOST_RE = /^[A-Za-z0-9-]+$/;
const ROOM_RE = /^[A-Za-z0-9-]+$/;
const GROUP_RE = /^[A-Za-z0-9_-]+$/;
const MAC_RE = /^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$/;
const IP_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isValidMac(mac: string): boolean {
  return MAC_RE.test(mac);
}

/** Upper case with colons, the form sophomorix (Net::MAC) stores. */
export function normalizeMac(mac: string): string {
  return mac.trim().toUpperCase().replace(/-/g, ':');
}

/** sophomorix: exactly three dots, each octet 0..255. */
export function isValidIpv4(ip: string): boolean {
  const m = IP_RE.exec(ip);
  return Boolean(m && m.slice(1).every((o) => Number(o) <= 255));
}

/** import-devices' isValidHostIpv4: first octet ≠ 0, first and last ≤ 254. */
function importAcceptsIp(ip: string): boolean {
  const o = ip.split('.').map(Number);
  return o[0] !== 0 && o[0]! <= 254 && o[3]! <= 254;
}

const FIELD = ['room (field 1)', 'hostname (field 2)', 'device group (field 3)', 'MAC (field 4)', 'IP (field 5)'];

export function validateDevices(file: DevicesFile): DeviceProblem[] {
  const problems: DeviceProblem[] = [];
  const err = (line: number, message: string) => problems.push({ line, severity: 'error', message });
  const warn = (line: number, message: string) => problems.push({ line, severity: 'warning', message });
  const macs = new Map<string, number>();
  const ips = new Map<string, number>();
  const names = new Map<string, number>();
  for (const l of file.lines) {
    const n = l.lineNo;
    if (l.kind === 'comment') {
      if (!l.text.startsWith('#')) err(n, "comment does not start in the first column: sophomorix-device reads it as a device row");
      continue;
    }
    if (l.kind === 'blank') continue;
    const f = l.fields;
    // Perl's split drops trailing empty fields: an empty pxe flag is as fatal as a missing one.
    if (f.length < 11) {
      err(n, `too few fields: ${f.length}, a device row needs at least 11 (up to the pxe flag); sophomorix-device exits 88`);
      continue; // the columns of a short row are not what they seem; one clear problem per row
    }
    const [room = '', host = '', group = '', mac = '', ip = ''] = f;
    const role = f[8] ?? '';
    const pxe = f[10];
    if (f.length > 0) {
      if (room === '') warn(n, 'room (field 1) is empty: import-devices writes no DHCP entry and no LINBO links for it');
      else if (!ROOM_RE.test(room)) err(n, `invalid ${FIELD[0]} '${room}': only letters, digits and '-'`);
      else if (room.startsWith('-')) warn(n, `${FIELD[0]} '${room}' starts with '-': import-devices skips the row`);
    }
    if (f.length > 1) {
      if (host === '') err(n, 'hostname (field 2) is empty');
      else if (!HOST_RE.test(host)) err(n, `invalid ${FIELD[1]} '${host}': only letters, digits and '-'`);
      else {
        if (host.length > 15) warn(n, `hostname '${host}' is longer than 15 characters (the NetBIOS limit)`);
        if (host.startsWith('-') || host.endsWith('-')) warn(n, `hostname '${host}' starts or ends with '-': import-devices skips the row`);
        const key = host.toLowerCase();
        const prev = names.get(key);
        if (prev !== undefined) err(n, `duplicate hostname '${host}' (also on line ${prev})`);
        else names.set(key, n);
      }
    }
    if (f.length > 2 && !GROUP_RE.test(group)) err(n, `invalid ${FIELD[2]} '${group}': only letters, digits, '_' and '-'`);
    if (f.length > 3) {
      if (!isValidMac(mac)) err(n, `invalid ${FIELD[3]} '${mac}': six hex pairs separated by ':' or '-'`);
      else {
        const key = normalizeMac(mac);
        const prev = macs.get(key);
        if (prev !== undefined) err(n, `duplicate MAC ${key} (also on line ${prev})`);
        else macs.set(key, n);
      }
    }
    if (f.length > 4) {
      if (ip === 'DHCP') {
        // dynamic address: no duplicate check
      } else if (!isValidIpv4(ip)) err(n, `invalid ${FIELD[4]} '${ip}': a dotted IPv4 address or DHCP`);
      else {
        if (!importAcceptsIp(ip)) warn(n, `IP ${ip} is rejected by import-devices (first octet 0, or first/last octet 255): no DHCP entry`);
        const prev = ips.get(ip);
        if (prev !== undefined) err(n, `duplicate IP ${ip} (also on line ${prev})`);
        else ips.set(ip, n);
      }
    }
    if (role !== '' && !ROLES.has(role)) err(n, `unknown sophomorix role (field 9) '${role}'`);
    if (!(pxe !== undefined && (/^\d+$/.test(pxe) || pxe === 'ml'))) {
      err(n, `invalid pxe flag (field 11) '${pxe ?? ''}': a number or 'ml'; sophomorix-device exits 88`);
    }
  }
  return problems;
}

export function formatProblem(p: DeviceProblem, file?: string): string {
  return `${file ? `${file}:` : 'line '}${p.line}: ${p.severity}: ${p.message}`;
}
