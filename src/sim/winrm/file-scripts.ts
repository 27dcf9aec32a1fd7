// The PowerShell the Lab Gateway runs to change a file on a station (reference NOTES §3.6, §5.2): a line of
// `Set-Content -LiteralPath '<p>' -Value '<v>' -Encoding UTF8`, or `if (Test-Path -LiteralPath '<p>') { Remove-Item
// -LiteralPath '<p>' -Force }`, optionally after `$ErrorActionPreference = 'Stop'`. The simulator runs scripts
// made only of these lines; anything else is some other script.
import { parsePsLiteral } from '../../core/winrm/powershell.js';

export type FileOp = { op: 'write'; path: string; value: string } | { op: 'remove'; path: string };

/** A literal at the start of `s` and the rest after it, or undefined. */
function literal(s: string): { value: string; rest: string } | undefined {
  const lit = parsePsLiteral(s, 0);
  return lit && { value: lit.value, rest: s.slice(lit.end) };
}

function parseLine(line: string): FileOp | null | undefined {
  if (/^\$ErrorActionPreference\s*=\s*'Stop'$/i.test(line)) return null;
  const set = /^Set-Content\s+-LiteralPath\s+/i.exec(line);
  if (set) {
    const path = literal(line.slice(set[0].length));
    const value = path && /^\s+-Value\s+/i.exec(path.rest);
    const v = value ? literal(path!.rest.slice(value[0].length)) : undefined;
    return path && v && /^\s+-Encoding\s+UTF8$/i.test(v.rest) ? { op: 'write', path: path.value, value: v.value } : undefined;
  }
  const test = /^if\s*\(\s*Test-Path\s+-LiteralPath\s+/i.exec(line);
  if (test) {
    const p1 = literal(line.slice(test[0].length));
    const mid = p1 && /^\s*\)\s*\{\s*Remove-Item\s+-LiteralPath\s+/i.exec(p1.rest);
    const p2 = mid ? literal(p1!.rest.slice(mid[0].length)) : undefined;
    return p1 && p2 && p1.value === p2.value && /^\s+-Force\s*\}$/i.test(p2.rest) ? { op: 'remove', path: p1.value } : undefined;
  }
  return undefined;
}

/** The file operations of a script made only of those lines, in order; undefined for any other script. */
export function parseFileScript(script: string): FileOp[] | undefined {
  const ops: FileOp[] = [];
  for (const raw of script.replace(/\r\n/g, '\n').split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const op = parseLine(line);
    if (op === undefined) return undefined;
    if (op) ops.push(op);
  }
  return ops.length ? ops : undefined;
}
