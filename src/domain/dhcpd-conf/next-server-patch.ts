// Plans the `next-server` patch of the LINBO Docker hook (NOTES §6.4) on a dhcpd devices file:
// string in, plan and string out. Byte-compatible with the hook on linuxmuster-generated files, and
// fixes its bugs: exact address comparison, single-line and nested blocks handled, blocks without a
// hardware line reported instead of counted.
import { scanDhcpd, type HostBlock } from './scan.js';

export type PatchAction = 'insert' | 'replace' | 'keep' | 'no-hardware';

export interface HostPatch {
  /** host name as written in the DHCP file */
  host: string;
  line: number;
  action: PatchAction;
  /** the wrong value(s) a replace overwrites */
  previous?: string[];
}

export interface NextServerPlan {
  hosts: HostPatch[];
  /** wanted hosts (qualified, lowercase) with no host block in the file */
  missing: string[];
  /** the patched text (=== input when nothing changes) */
  output: string;
  changed: boolean;
}

interface Edit {
  at: number;
  end: number;
  text: string;
}

function lineStart(text: string, at: number): number {
  const nl = text.lastIndexOf('\n', at - 1);
  return nl + 1;
}

/** Where the hook would insert: after the hardware line when the statement ends its line, else inline. */
function insertEdit(text: string, hw: NonNullable<HostBlock['hardware']>, ip: string): Edit {
  let k = hw.end;
  while (k < text.length && (text[k] === ' ' || text[k] === '\t')) k++;
  if (text[k] === '#') while (k < text.length && text[k] !== '\n') k++;
  if (text[k] === '\n' || (text[k] === '\r' && text[k + 1] === '\n')) {
    const crlf = text[k] === '\r';
    const nl = crlf ? k + 1 : k;
    const ls = lineStart(text, hw.start);
    const lead = /^[ \t]*/.exec(text.slice(ls, hw.start))![0];
    // The hook reuses the hardware line's indentation, two spaces when there is none.
    const indent = lead.length > 0 && ls + lead.length === hw.start ? lead : '  ';
    return { at: nl + 1, end: nl + 1, text: `${indent}next-server ${ip};${crlf ? '\r\n' : '\n'}` };
  }
  return { at: hw.end, end: hw.end, text: ` next-server ${ip};` };
}

/**
 * @param wanted qualified host names (as they appear in the DHCP file), compared case-insensitively
 * @param ip the next-server address; a host is correct only when its value is exactly this
 */
export function planNextServerPatch(text: string, wanted: Iterable<string>, ip: string): NextServerPlan {
  const want = new Set<string>();
  for (const w of wanted) want.add(w.toLowerCase());
  const { hosts } = scanDhcpd(text);
  const seen = new Set<string>();
  const out: HostPatch[] = [];
  const edits: Edit[] = [];
  for (const h of hosts) {
    const key = h.name.toLowerCase();
    if (!want.has(key)) continue;
    seen.add(key);
    if (h.nextServers.length) {
      const wrong = h.nextServers.filter((s) => s.value !== ip);
      if (wrong.length === 0) {
        out.push({ host: h.name, line: h.line, action: 'keep' });
        continue;
      }
      for (const s of wrong) edits.push({ at: s.start, end: s.end, text: `next-server ${ip};` });
      out.push({ host: h.name, line: h.line, action: 'replace', previous: wrong.map((s) => s.value) });
      continue;
    }
    if (!h.hardware) {
      out.push({ host: h.name, line: h.line, action: 'no-hardware' });
      continue;
    }
    edits.push(insertEdit(text, h.hardware, ip));
    out.push({ host: h.name, line: h.line, action: 'insert' });
  }
  let output = text;
  if (edits.length) {
    edits.sort((a, b) => a.at - b.at);
    const parts: string[] = [];
    let pos = 0;
    for (const e of edits) {
      parts.push(text.slice(pos, e.at), e.text);
      pos = e.end;
    }
    parts.push(text.slice(pos));
    output = parts.join('');
  }
  const missing = [...want].filter((w) => !seen.has(w));
  return { hosts: out, missing, output, changed: output !== text };
}
