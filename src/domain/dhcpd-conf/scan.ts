// Structure of a dhcpd.conf file from its tokens: host blocks (with their hardware and next-server
// statements and offsets), include statements, and brace balance. Nesting is understood, so a
// single-line or nested block is found exactly like a linuxmuster-style multi-line one.
import { DhcpdSyntaxError, T_LBRACE, T_RBRACE, T_SEMI, T_STRING, T_WORD, tokenize, tokenValue, type Tokens } from './tokenize.js';

export interface Statement {
  /** offset of the first token */
  start: number;
  /** offset just after the terminating `;` */
  end: number;
  line: number;
  /** the tokens after the keyword, joined with single spaces */
  value: string;
}

export interface HostBlock {
  /** the name as written (unquoted) */
  name: string;
  line: number;
  /** offset of the `host` keyword */
  start: number;
  /** offset just after the closing `}` */
  end: number;
  hardware?: Statement;
  nextServers: Statement[];
}

export interface DhcpdScan {
  hosts: HostBlock[];
  /** include "<file>"; statements, in order */
  includes: { path: string; line: number }[];
}

const lower = (s: string) => s.toLowerCase();

export function scanDhcpd(text: string): DhcpdScan {
  const t: Tokens = tokenize(text);
  const hosts: HostBlock[] = [];
  const includes: DhcpdScan['includes'] = [];
  // Stack of open blocks: the host block being filled, or undefined for other blocks.
  const stack: { host?: HostBlock; line: number }[] = [];
  let stmtStart = 0; // index of the first token of the current statement
  for (let i = 0; i < t.count; i++) {
    const ty = t.type[i]!;
    if (ty === T_LBRACE) {
      // Is this `host <name> {` ?
      let host: HostBlock | undefined;
      if (i - stmtStart === 2 && t.type[stmtStart] === T_WORD && lower(tokenValue(text, t, stmtStart)) === 'host' && (t.type[i - 1] === T_WORD || t.type[i - 1] === T_STRING)) {
        host = { name: tokenValue(text, t, i - 1), line: t.line[stmtStart]!, start: t.start[stmtStart]!, end: 0, nextServers: [] };
        hosts.push(host);
      }
      stack.push({ host, line: t.line[i]! });
      stmtStart = i + 1;
    } else if (ty === T_RBRACE) {
      const open = stack.pop();
      if (!open) throw new DhcpdSyntaxError("'}' without a matching '{'", t.line[i]!);
      if (i !== stmtStart) throw new DhcpdSyntaxError("missing ';' before '}'", t.line[i]!);
      if (open.host) open.host.end = t.end[i]!;
      stmtStart = i + 1;
    } else if (ty === T_SEMI) {
      if (i > stmtStart && t.type[stmtStart] === T_WORD) {
        const kw = lower(tokenValue(text, t, stmtStart));
        const top = stack.length ? stack[stack.length - 1] : undefined;
        if (top?.host && (kw === 'hardware' || kw === 'next-server')) {
          const parts: string[] = [];
          for (let k = stmtStart + 1; k < i; k++) parts.push(tokenValue(text, t, k));
          const st: Statement = { start: t.start[stmtStart]!, end: t.end[i]!, line: t.line[stmtStart]!, value: parts.join(' ') };
          if (kw === 'hardware') {
            if (!top.host.hardware) top.host.hardware = st;
          } else top.host.nextServers.push(st);
        } else if (kw === 'include' && i - stmtStart === 2 && t.type[stmtStart + 1] === T_STRING) {
          includes.push({ path: tokenValue(text, t, stmtStart + 1), line: t.line[stmtStart]! });
        }
      }
      stmtStart = i + 1;
    }
  }
  if (stack.length) {
    const open = stack[stack.length - 1]!;
    throw new DhcpdSyntaxError(`block opened here is never closed (missing '}')`, open.line);
  }
  if (stmtStart < t.count) throw new DhcpdSyntaxError("statement without a terminating ';' at end of file", t.line[stmtStart]!);
  return { hosts, includes };
}
