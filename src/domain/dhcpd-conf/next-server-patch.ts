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

/** Where the hook would insert: after the hardware line when the statement ends its line, else inline. */
function insertEdit(text: string, hw: NonNullable<HostBlock['hardware']>, ip: string, lines: Map<string, string>): Edit {
  let k = hw.end;
  let c = text.charCodeAt(k);
  while (c === 32 || c === 9) c = text.charCodeAt(++k);
  if (c === 35 /* # */) {
    const nl = text.indexOf('\n', k);
    k = nl < 0 ? text.length : nl;
    c = text.charCodeAt(k);
  }
  const crlf = c === 13 && text.charCodeAt(k + 1) === 10;
  if (c === 10 || crlf) {
    const nl = crlf ? k + 1 : k;
    // The hook reuses the hardware line's indentation (spaces and tabs only), two spaces when there is none.
    const ls = text.lastIndexOf('\n', hw.start - 1) + 1;
    let e = ls;
    while (text.charCodeAt(e) === 32 || text.charCodeAt(e) === 9) e++;
    const indent = e > ls && e === hw.start ? text.slice(ls, e) : '  ';
    // one string per indentation and line ending, shared by every host that has them
    const key = crlf ? `${indent}\r` : indent;
    let line = lines.get(key);
    if (line === undefined) lines.set(key, (line = `${indent}next-server ${ip};${crlf ? '\r\n' : '\n'}`));
    return { at: nl + 1, end: nl + 1, text: line };
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
  const { hosts } = scanDhcpd(text, want);
  const seen = new Set<string>();
  const out: HostPatch[] = [];
  const edits: Edit[] = [];
  const lines = new Map<string, string>();
  // only the wanted hosts: scanDhcpd filters by `want`
  for (const h of hosts) {
    seen.add(h.name.toLowerCase());
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
    edits.push(insertEdit(text, h.hardware, ip, lines));
    out.push({ host: h.name, line: h.line, action: 'insert' });
  }
  let output = text;
  if (edits.length) {
    // in file order already unless a host block sits inside another; sorting 10 000 edits anyway shows on big imports
    for (let k = 1; k < edits.length; k++) {
      if (edits[k]!.at < edits[k - 1]!.at) {
        edits.sort((a, b) => a.at - b.at);
        break;
      }
    }
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
