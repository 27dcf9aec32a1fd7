// A tokenizer for ISC dhcpd.conf, written by hand because no library parses dhcpd.conf host blocks
// faithfully (with offsets, so a patch can keep every other byte as it was).
// Tokens are kept in typed arrays: a 20,000-host file has ~600,000 tokens and this stays fast.

export const T_WORD = 1;
export const T_STRING = 2;
export const T_LBRACE = 3;
export const T_RBRACE = 4;
export const T_SEMI = 5;
export const T_PUNCT = 6;

export interface Tokens {
  count: number;
  type: Uint8Array;
  start: Uint32Array;
  end: Uint32Array;
  line: Uint32Array;
}

export class DhcpdSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}

export function tokenize(text: string): Tokens {
  let cap = Math.max(64, text.length >> 2);
  let type = new Uint8Array(cap);
  let start = new Uint32Array(cap);
  let end = new Uint32Array(cap);
  let line = new Uint32Array(cap);
  let n = 0;
  const push = (t: number, s: number, e: number, l: number) => {
    if (n === cap) {
      cap *= 2;
      const nt = new Uint8Array(cap);
      nt.set(type);
      type = nt;
      const ns = new Uint32Array(cap);
      ns.set(start);
      start = ns;
      const ne = new Uint32Array(cap);
      ne.set(end);
      end = ne;
      const nl = new Uint32Array(cap);
      nl.set(line);
      line = nl;
    }
    type[n] = t;
    start[n] = s;
    end[n] = e;
    line[n] = l;
    n++;
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
      while (i < len && text.charCodeAt(i) !== 10) i++;
    } else if (c === 123 /* { */) {
      push(T_LBRACE, i, i + 1, ln);
      i++;
    } else if (c === 125 /* } */) {
      push(T_RBRACE, i, i + 1, ln);
      i++;
    } else if (c === 59 /* ; */) {
      push(T_SEMI, i, i + 1, ln);
      i++;
    } else if (c === 44 /* , */ || c === 61 /* = */) {
      push(T_PUNCT, i, i + 1, ln);
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
      push(T_STRING, s, i, startLine);
    } else {
      const s = i;
      while (i < len) {
        const d = text.charCodeAt(i);
        if (isSpace(d) || d === 123 || d === 125 || d === 59 || d === 35 || d === 34 || d === 44 || d === 61) break;
        i++;
      }
      push(T_WORD, s, i, ln);
    }
  }
  return { count: n, type, start, end, line };
}

export function tokenText(text: string, t: Tokens, i: number): string {
  return text.slice(t.start[i], t.end[i]);
}

/** The unquoted value of a word or string token. */
export function tokenValue(text: string, t: Tokens, i: number): string {
  const s = tokenText(text, t, i);
  return t.type[i] === T_STRING ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}
