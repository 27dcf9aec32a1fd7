// Structure of a dhcpd.conf file: host blocks (with their hardware and next-server statements and
// offsets), include statements, and brace balance. Nesting is understood, so a single-line or nested
// block is found exactly like a linuxmuster-style multi-line one.
// Hand-written (no library reads dhcpd.conf host blocks faithfully). The lexer is fused into the scanner and keeps
// no token list: this runs on every device import over files with tens of thousands of hosts, and must stay fast.
import { DhcpdSyntaxError } from './errors.js';

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

const WORD = 1;
const STRING = 2;
const PUNCT = 3;

const K_NONE = 0;
const K_HARDWARE = 1;
const K_NEXT_SERVER = 2;
const K_INCLUDE = 3;
const K_HOST = 4;

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}

/** Case-insensitive keyword test on text[s, e) without slicing. */
function is(text: string, s: number, e: number, kw: string): boolean {
  if (e - s !== kw.length) return false;
  for (let k = 0; k < kw.length; k++) if ((text.charCodeAt(s + k) | 0x20) !== kw.charCodeAt(k)) return false;
  return true;
}

function value(text: string, type: number, s: number, e: number): string {
  return type === STRING ? text.slice(s + 1, e - 1).replace(/\\(.)/g, '$1') : text.slice(s, e);
}

/**
 * Host blocks and includes of a dhcpd.conf file; throws DhcpdSyntaxError with the line when it is broken.
 * With `only` (lowercase names), just those host blocks are returned; every block is still read and checked.
 */
export function scanDhcpd(text: string, only?: ReadonlySet<string>): DhcpdScan {
  const fast = scanLinuxmusterShape(text, only);
  if (fast) return fast;
  const all = scanDhcpdTokens(text);
  return only ? { hosts: all.hosts.filter((h) => only.has(h.name.toLowerCase())), includes: all.includes } : all;
}

// The shape linuxmuster-import-devices writes (NOTES §6.5): blank lines, comments and top-level host blocks of one
// statement per line, with plain values in hardware/next-server. Read by regular expressions, which V8 runs as
// native code: a block with one hardware line and no next-server is one match (name, hardware statement, end), so
// a 20 000-host file costs a fraction of the tokenizer. Anything else (nesting, several statements on a line,
// escapes, includes, a syntax error) returns undefined and the tokenizer reads the file. On every file this
// accepts, both give the same result (unit test on generated files).
const SPACE = ' \\t\\n\\r\\f\\v'; // the tokenizer's isSpace
const WORD_CHAR = `[^${SPACE}{};#",=]`;
/** ASCII case-insensitive, like is(): /i would also fold non-ASCII letters (U+017F matches s). */
const keyword = (w: string) => [...w].map((c) => (/[a-z]/.test(c) ? `[${c.toUpperCase()}${c}]` : c)).join('') + `(?!${WORD_CHAR})`;
const COMMENT = '(?:#[^\\n]*)?';
const GAP_LINE = `[ \\t\\r]*${COMMENT}\\n`;
const STATEMENT = `[^${SPACE}{};#"][^\\n{};#"]*(?:"[^"\\\\\\n]*"[^\\n{};#"]*)*;[ \\t\\r]*`;
const REPORTED = `(?:${keyword('hardware')}|${keyword('next-server')}|${keyword('include')})`;
const BODY_LINE = `[ \\t\\r]*(?:${STATEMENT})?${COMMENT}\\n`;
const OTHER_LINE = `[ \\t\\r]*(?:(?!${REPORTED})${STATEMENT})?${COMMENT}\\n`;
const HEAD = `((?:${GAP_LINE})*[ \\t]*)${keyword('host')}[ \\t]+(${WORD_CHAR}+)[ \\t]*\\{[ \\t\\r]*${COMMENT}\\n`;
const TAIL = `[ \\t\\r]*\\}([ \\t\\r]*${COMMENT}(?:\\n|$))`;
const PLAIN_VALUE = `(?:[ \\t]+(${WORD_CHAR}+(?:[ \\t]+${WORD_CHAR}+)*))?[ \\t]*;`;
// groups: 1 all before the hardware keyword, 2 the gap before `host`, 3 name, 4 hardware statement, 5 its value, 6 after `}`
const HOST_WITH_HARDWARE_Y = new RegExp(`(${HEAD}(?:${OTHER_LINE})*[ \\t\\r]*)(${keyword('hardware')}${PLAIN_VALUE})[ \\t\\r]*${COMMENT}\\n(?:${OTHER_LINE})*${TAIL}`, 'y');
// groups: 1 the gap before `host`, 2 name, 3 after `}`
const HOST_Y = new RegExp(`${HEAD}(?:${BODY_LINE})*${TAIL}`, 'y');
const END_Y = new RegExp(`(?:${GAP_LINE})*[ \\t\\r]*${COMMENT}$`, 'y');
// in a block's text: 1 the keyword, 2 the statement after it when plain, 3 its value
const REPORTED_G = new RegExp(`\\n[ \\t\\r]*(${REPORTED})(${PLAIN_VALUE})?`, 'g');

/** The tokenizer's value: the words after the keyword, joined by single spaces. */
const plainValue = (v: string | undefined) => (v === undefined ? '' : v.includes('\t') || v.includes('  ') ? v.split(/[ \t]+/).join(' ') : v);

/** exported for the test that holds it to the tokenizer */
export function scanLinuxmusterShape(text: string, only?: ReadonlySet<string>): DhcpdScan | undefined {
  const len = text.length;
  const hosts: HostBlock[] = [];
  // 1-based line of an offset; offsets are asked in ascending order
  let line = 1;
  let nextNewline = text.indexOf('\n');
  const lineOf = (offset: number) => {
    while (nextNewline >= 0 && nextNewline < offset) {
      line++;
      nextNewline = text.indexOf('\n', nextNewline + 1);
    }
    return line;
  };
  let pos = 0;
  while (pos < len) {
    HOST_WITH_HARDWARE_Y.lastIndex = pos;
    const m = HOST_WITH_HARDWARE_Y.exec(text);
    if (m) {
      const start = pos + m[2]!.length;
      const hwStart = pos + m[1]!.length;
      const hwEnd = hwStart + m[4]!.length;
      pos = HOST_WITH_HARDWARE_Y.lastIndex;
      // a block nobody asked for costs no objects (a big import asks for some of the hosts)
      if (only && !only.has(m[3]!.toLowerCase())) continue;
      const hostLine = lineOf(start);
      hosts.push({ name: m[3]!, line: hostLine, start, end: pos - m[6]!.length, hardware: { start: hwStart, end: hwEnd, line: lineOf(hwStart), value: plainValue(m[5]) }, nextServers: [] });
      continue;
    }
    HOST_Y.lastIndex = pos;
    const g = HOST_Y.exec(text);
    if (!g) {
      END_Y.lastIndex = pos;
      if (END_Y.test(text)) break;
      return undefined;
    }
    const start = pos + g[1]!.length;
    const blockEnd = HOST_Y.lastIndex;
    const wanted = !only || only.has(g[2]!.toLowerCase());
    const host: HostBlock = { name: g[2]!, line: wanted ? lineOf(start) : 0, start, end: blockEnd - g[3]!.length, nextServers: [] };
    const block = text.slice(start, blockEnd);
    REPORTED_G.lastIndex = 0;
    for (let k = REPORTED_G.exec(block); k; k = REPORTED_G.exec(block)) {
      const word = k[1]!.toLowerCase();
      if (word === 'include' || k[2] === undefined) return undefined;
      if (!wanted) continue;
      const stStart = start + REPORTED_G.lastIndex - k[1]!.length - k[2].length;
      const st: Statement = { start: stStart, end: start + REPORTED_G.lastIndex, line: lineOf(stStart), value: plainValue(k[3]) };
      if (word === 'hardware') {
        if (!host.hardware) host.hardware = st;
      } else host.nextServers.push(st);
    }
    if (wanted) hosts.push(host);
    pos = blockEnd;
  }
  return { hosts, includes: [] };
}

/** The general reader: a tokenizer that understands nesting, strings, comments and any statement layout. */
export function scanDhcpdTokens(text: string): DhcpdScan {
  const hosts: HostBlock[] = [];
  const includes: DhcpdScan['includes'] = [];
  const stack: { host?: HostBlock; line: number }[] = [];
  // the current statement
  let count = 0;
  let kind = K_NONE;
  let stStart = 0;
  let stLine = 0;
  let secondType = 0;
  let secondStart = 0;
  let secondEnd = 0;
  let parts: string[] = [];
  const reset = () => {
    count = 0;
    kind = K_NONE;
  };
  const token = (type: number, s: number, e: number, line: number) => {
    if (count === 0) {
      stStart = s;
      stLine = line;
      const inHost = stack.length > 0 && stack[stack.length - 1]!.host !== undefined;
      if (type !== WORD) kind = K_NONE;
      else if (inHost && is(text, s, e, 'hardware')) kind = K_HARDWARE;
      else if (inHost && is(text, s, e, 'next-server')) kind = K_NEXT_SERVER;
      else if (is(text, s, e, 'include')) kind = K_INCLUDE;
      else if (is(text, s, e, 'host')) kind = K_HOST;
      else kind = K_NONE;
      if (kind === K_HARDWARE || kind === K_NEXT_SERVER) parts = [];
    } else {
      if (count === 1) {
        secondType = type;
        secondStart = s;
        secondEnd = e;
      }
      if (kind === K_HARDWARE || kind === K_NEXT_SERVER) parts.push(value(text, type, s, e));
    }
    count++;
  };

  const len = text.length;
  let i = 0;
  let ln = 1;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      ln++;
      i++;
    } else if (isSpace(c)) {
      i++;
    } else if (c === 35 /* # */) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? len : nl;
    } else if (c === 123 /* { */) {
      let host: HostBlock | undefined;
      if (kind === K_HOST && count === 2 && (secondType === WORD || secondType === STRING)) {
        host = { name: value(text, secondType, secondStart, secondEnd), line: stLine, start: stStart, end: 0, nextServers: [] };
        hosts.push(host);
      }
      stack.push({ host, line: ln });
      reset();
      i++;
    } else if (c === 125 /* } */) {
      const open = stack.pop();
      if (!open) throw new DhcpdSyntaxError("'}' without a matching '{'", ln);
      if (count !== 0) throw new DhcpdSyntaxError("missing ';' before '}'", ln);
      if (open.host) open.host.end = i + 1;
      reset();
      i++;
    } else if (c === 59 /* ; */) {
      if (kind === K_HARDWARE || kind === K_NEXT_SERVER) {
        const host = stack[stack.length - 1]!.host!;
        const st: Statement = { start: stStart, end: i + 1, line: stLine, value: parts.join(' ') };
        if (kind === K_HARDWARE) {
          if (!host.hardware) host.hardware = st;
        } else host.nextServers.push(st);
      } else if (kind === K_INCLUDE && count === 2 && secondType === STRING) {
        includes.push({ path: value(text, STRING, secondStart, secondEnd), line: stLine });
      }
      reset();
      i++;
    } else if (c === 44 /* , */ || c === 61 /* = */) {
      token(PUNCT, i, i + 1, ln);
      i++;
    } else if (c === 34 /* " */) {
      const s = i;
      const startLine = ln;
      i++;
      for (;;) {
        if (i >= len) throw new DhcpdSyntaxError('unterminated string', startLine);
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) {
          i++;
          break;
        } else {
          if (d === 10) ln++;
          i++;
        }
      }
      token(STRING, s, i, startLine);
    } else {
      const s = i;
      while (i < len) {
        const d = text.charCodeAt(i);
        if (isSpace(d) || d === 123 || d === 125 || d === 59 || d === 35 || d === 34 || d === 44 || d === 61) break;
        i++;
      }
      token(WORD, s, i, ln);
    }
  }
  if (stack.length) throw new DhcpdSyntaxError(`block opened here is never closed (missing '}')`, stack[stack.length - 1]!.line);
  if (count > 0) throw new DhcpdSyntaxError("statement without a terminating ';' at end of file", stLine);
  return { hosts, includes };
}
