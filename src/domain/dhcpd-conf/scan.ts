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
  return new DhcpdTokenScanner(text).scan();
}

/** The kind of statement its first word starts: only what the scan reports is told apart. */
function statementKind(text: string, s: number, e: number, inHost: boolean): number {
  if (inHost && is(text, s, e, 'hardware')) return K_HARDWARE;
  if (inHost && is(text, s, e, 'next-server')) return K_NEXT_SERVER;
  if (is(text, s, e, 'include')) return K_INCLUDE;
  if (is(text, s, e, 'host')) return K_HOST;
  return K_NONE;
}

/** Ends a word: space, a brace, `;`, a comment, a quote, `,` or `=`. */
function endsWord(c: number): boolean {
  return isSpace(c) || c === 123 || c === 125 || c === 59 || c === 35 || c === 34 || c === 44 || c === 61;
}

/** The tokenizer: the blocks open around it, the statement being read, and one reader per kind of token. */
class DhcpdTokenScanner {
  private readonly hosts: HostBlock[] = [];
  private readonly includes: DhcpdScan['includes'] = [];
  private readonly stack: { host?: HostBlock; line: number }[] = [];
  private line = 1;
  // the statement being read: tokens so far, its kind (by its first word), where it starts, its second token
  // (a host's name, an include's path) and the values of a hardware or next-server statement
  private count = 0;
  private kind = K_NONE;
  private stStart = 0;
  private stLine = 0;
  private secondType = 0;
  private secondStart = 0;
  private secondEnd = 0;
  private parts: string[] = [];

  constructor(private readonly text: string) {}

  scan(): DhcpdScan {
    const { text } = this;
    const len = text.length;
    // each reader takes the offset of its first character and returns the offset after it
    let i = 0;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 10) {
        this.line++;
        i++;
      } else if (isSpace(c)) i++;
      else if (c === 35 /* # */) i = this.skipComment(i);
      else if (c === 123 /* { */) i = this.openBlock(i);
      else if (c === 125 /* } */) i = this.closeBlock(i);
      else if (c === 59 /* ; */) i = this.endStatement(i);
      else if (c === 44 /* , */ || c === 61 /* = */) i = this.token(PUNCT, i, i + 1, this.line);
      else if (c === 34 /* " */) i = this.readString(i);
      else i = this.readWord(i);
    }
    if (this.stack.length) throw new DhcpdSyntaxError(`block opened here is never closed (missing '}')`, this.stack[this.stack.length - 1]!.line);
    if (this.count > 0) throw new DhcpdSyntaxError("statement without a terminating ';' at end of file", this.stLine);
    return { hosts: this.hosts, includes: this.includes };
  }

  private skipComment(at: number): number {
    const nl = this.text.indexOf('\n', at);
    return nl < 0 ? this.text.length : nl;
  }

  /** `{`: after `host <name>` a host block opens, else a block of another kind. */
  private openBlock(at: number): number {
    let host: HostBlock | undefined;
    if (this.kind === K_HOST && this.count === 2 && (this.secondType === WORD || this.secondType === STRING)) {
      host = { name: value(this.text, this.secondType, this.secondStart, this.secondEnd), line: this.stLine, start: this.stStart, end: 0, nextServers: [] };
      this.hosts.push(host);
    }
    this.stack.push({ host, line: this.line });
    this.resetStatement();
    return at + 1;
  }

  private closeBlock(at: number): number {
    const open = this.stack.pop();
    if (!open) throw new DhcpdSyntaxError("'}' without a matching '{'", this.line);
    if (this.count !== 0) throw new DhcpdSyntaxError("missing ';' before '}'", this.line);
    if (open.host) open.host.end = at + 1;
    this.resetStatement();
    return at + 1;
  }

  /** `;`: a hardware or next-server statement goes to its host block, an include to the includes. */
  private endStatement(at: number): number {
    const kind = this.kind;
    if (kind === K_HARDWARE || kind === K_NEXT_SERVER) {
      const host = this.stack[this.stack.length - 1]!.host!;
      const st: Statement = { start: this.stStart, end: at + 1, line: this.stLine, value: this.parts.join(' ') };
      if (kind === K_HARDWARE) {
        if (!host.hardware) host.hardware = st;
      } else host.nextServers.push(st);
    } else if (kind === K_INCLUDE && this.count === 2 && this.secondType === STRING) {
      this.includes.push({ path: value(this.text, STRING, this.secondStart, this.secondEnd), line: this.stLine });
    }
    this.resetStatement();
    return at + 1;
  }

  private resetStatement(): void {
    this.count = 0;
    this.kind = K_NONE;
  }

  /** A quoted string (which may span lines); its token's line is the one it starts on. */
  private readString(s: number): number {
    const { text } = this;
    const len = text.length;
    const startLine = this.line;
    let i = s + 1;
    for (;;) {
      if (i >= len) throw new DhcpdSyntaxError('unterminated string', startLine);
      const d = text.charCodeAt(i);
      if (d === 92 /* \ */) {
        // an escaped newline is still a line, as dhcpd counts it
        if (text.charCodeAt(i + 1) === 10) this.line++;
        i += 2;
      } else if (d === 34) {
        i++;
        break;
      } else {
        if (d === 10) this.line++;
        i++;
      }
    }
    return this.token(STRING, s, i, startLine);
  }

  private readWord(s: number): number {
    const { text } = this;
    const len = text.length;
    let i = s;
    while (i < len && !endsWord(text.charCodeAt(i))) i++;
    return this.token(WORD, s, i, this.line);
  }

  /** A token of the current statement, text[s, e): the first decides its kind, the second is kept, values are collected. Returns e. */
  private token(type: number, s: number, e: number, line: number): number {
    if (this.count === 0) {
      this.stStart = s;
      this.stLine = line;
      const inHost = this.stack.length > 0 && this.stack[this.stack.length - 1]!.host !== undefined;
      this.kind = type === WORD ? statementKind(this.text, s, e, inHost) : K_NONE;
      if (this.kind === K_HARDWARE || this.kind === K_NEXT_SERVER) this.parts = [];
    } else {
      if (this.count === 1) {
        this.secondType = type;
        this.secondStart = s;
        this.secondEnd = e;
      }
      if (this.kind === K_HARDWARE || this.kind === K_NEXT_SERVER) this.parts.push(value(this.text, type, s, e));
    }
    this.count++;
    return e;
  }
}
