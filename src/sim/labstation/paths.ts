// Windows paths on a simulated station → files in its per-host directory.
// <hostDir> stands for C:\LabStation; other paths on a drive go to <hostDir>/_drives/<letter>/….
// Windows is case-insensitive and tolerates doubled separators (the upstream hosts.json samples carry
// C:\\LabStation\\… after decoding), so both are accepted here; ".." may not climb out of the drive.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const LABSTATION_DIR = 'C:\\LabStation';

/** The per-host directory for a station: <stateDir>/stations/<name>. */
export function stationDir(stateDir: string, name: string): string {
  if (!name || /[\\/]/.test(name) || name === '.' || name === '..') throw new Error(`invalid station name: ${JSON.stringify(name)}`);
  return join(stateDir, 'stations', name);
}

/**
 * Map a Windows path to the file in hostDir that holds it, or undefined for a UNC path, a relative
 * path or a path that climbs out of its drive. Existing entries are matched case-insensitively.
 */
export function windowsPathToHostPath(hostDir: string, windowsPath: string): string | undefined {
  const p = windowsPath.trim().replaceAll('/', '\\');
  if (p.startsWith('\\\\')) return undefined;
  const m = /^([a-zA-Z]):\\(.*)$/.exec(p);
  if (!m) return undefined;
  const drive = m[1]!.toLowerCase();
  const segments: string[] = [];
  for (const seg of m[2]!.split('\\')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (segments.length === 0) return undefined;
      segments.pop();
      continue;
    }
    if (/[<>:"|?*\0]/.test(seg)) return undefined;
    segments.push(seg);
  }
  let base: string;
  let rest: string[];
  if (drive === 'c' && segments[0]?.toLowerCase() === 'labstation') {
    base = hostDir;
    rest = segments.slice(1);
  } else {
    base = join(hostDir, '_drives', drive);
    rest = segments;
  }
  const exact = join(base, ...rest);
  if (existsSync(exact)) return exact;
  let cur = base;
  for (const seg of rest) cur = join(cur, matchCase(cur, seg));
  return cur;
}

function matchCase(dir: string, seg: string): string {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return seg;
  }
  if (names.includes(seg)) return seg;
  const lower = seg.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower) ?? seg;
}
