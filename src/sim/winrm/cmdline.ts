// How Windows turns a WinRS command line into a program's argv, stage by stage (reference/winrm/ARGV.md §2): the
// WinRS join, cmd.exe's /C quote rule, its percent phase (command-line mode), delayed expansion, its special-character
// phase (quotes, ^, & && | || < > >> n> n>&m, parentheses), then the program's own splitter: the UCRT rules
// AutoHotkey uses, or CommandLineToArgvW's. Pure functions; windows.ts runs the result.

/** §2.2: Command, then each Arguments element after one space; no quoting added. XML turns CR and CRLF into LF (§2.1). */
export function winrsJoin(command: string, args: readonly string[]): string {
  return [command, ...args].map((s) => s.replace(/\r\n?/g, '\n')).join(' ');
}

/**
 * §2.3 (cmd /?): the text after /C keeps its quotes only when there is no /S, exactly two quotes, no special
 * character between them, whitespace between them, and the quoted text names an executable; otherwise a leading
 * quote is removed together with the last quote of the line.
 */
export function slashCQuotes(rest: string, o: { s: boolean; isExecutable(path: string): boolean }): string {
  const line = rest.replace(/^[ \t]+/, '');
  if (line[0] !== '"') return line;
  const quotes = [...line].filter((c) => c === '"').length;
  const close = line.indexOf('"', 1);
  const inner = close > 0 ? line.slice(1, close) : '';
  if (!o.s && quotes === 2 && !/[&<>()@^|]/.test(inner) && /[ \t]/.test(inner) && o.isExecutable(inner)) return line;
  const last = line.lastIndexOf('"');
  return last > 0 ? line.slice(1, last) + line.slice(last + 1) : line.slice(1);
}

/**
 * §2.4, command-line mode: `%name%` of a defined variable becomes its value (not rescanned); an undefined name
 * stays as typed and scanning resumes at its closing `%`; `%%` is not reduced; `:~start,length` and `:old=new`
 * apply to defined names (extensions on). Quotes and ^ do not stop it.
 */
export function expandPercent(line: string, lookup: (name: string) => string | undefined): string {
  return expandBetween(line, '%', lookup, true);
}

/** Replaces `<mark>name<mark>` pairs; an undefined name is kept as typed (resuming at its closing mark) or removed. */
function expandBetween(text: string, mark: string, lookup: (name: string) => string | undefined, keepUndefined: boolean): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf(mark, i);
    if (open < 0) return out + text.slice(i);
    out += text.slice(i, open);
    const close = text.indexOf(mark, open + 1);
    if (close < 0) return out + text.slice(keepUndefined ? open : open + 1);
    const value = expandName(text.slice(open + 1, close), lookup);
    if (value !== undefined) {
      out += value;
      i = close + 1;
    } else if (keepUndefined) {
      out += text.slice(open, close);
      i = close;
    } else i = close + 1;
  }
  return out;
}

function expandName(spec: string, lookup: (name: string) => string | undefined): string | undefined {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const value = name ? lookup(name) : undefined;
  if (value === undefined || value === '') return undefined;
  if (colon < 0) return value;
  const mod = spec.slice(colon + 1);
  const sub = /^~(-?\d*)(?:,(-?\d*))?$/.exec(mod);
  if (sub) {
    let start = Number(sub[1] || 0);
    if (start < 0) start = Math.max(0, value.length + start);
    let end = value.length;
    if (sub[2] !== undefined) {
      const n = Number(sub[2] || 0);
      end = n < 0 ? value.length + n : start + n;
    }
    return value.slice(start, Math.max(start, end));
  }
  const eq = mod.indexOf('=');
  if (eq < 1) return undefined;
  const from = mod.slice(0, eq);
  const to = mod.slice(eq + 1);
  if (from.startsWith('*')) {
    const at = value.toLowerCase().indexOf(from.slice(1).toLowerCase());
    return at < 0 ? value : to + value.slice(at + from.length - 1);
  }
  return value.replace(new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), () => to);
}

/** §2.5, delayed expansion on: `!name!` of a defined variable becomes its value; any other `!` is removed. */
export function expandDelayed(text: string, lookup: (name: string) => string | undefined): string {
  return expandBetween(text, '!', lookup, false);
}

export type Redirect = { fd: number; op: '<' | '>' | '>>'; target: string } | { fd: number; op: '>&'; to: number };

export type CmdNode =
  | { kind: 'simple'; text: string; redirects: Redirect[] }
  | { kind: 'group'; body: CmdNode; redirects: Redirect[] }
  | { kind: '&' | '&&' | '||' | '|'; left: CmdNode; right: CmdNode };

export class CmdSyntaxError extends Error {}

/**
 * §2.6: the special-character phase over an already expanded line. Outside quotes `^x` gives x, `&` `&&` `||` `|`
 * join commands (`|` binds tightest, then `&&`/`||`, then `&`), `<` `>` `>>` `n>` `n>&m` redirect, `(` opens a
 * block where a command starts and `)` closes one; inside quotes everything is text. An LF ends the line. Each
 * simple command's text keeps its quotes and loses its carets and redirections (what cmd hands to CreateProcess).
 */
export function parseCmdLine(line: string): CmdNode {
  const lf = line.indexOf('\n');
  const p = new CmdParser(lf < 0 ? line : line.slice(0, lf));
  const node = p.sequence();
  if (p.i < p.s.length) throw new CmdSyntaxError(`${p.s[p.i]} was unexpected at this time.`);
  return node;
}

const INCORRECT = 'The syntax of the command is incorrect.';

class CmdParser {
  i = 0;
  private depth = 0;
  constructor(readonly s: string) {}

  private peekOp(): '&' | '&&' | '||' | '|' | ')' | undefined {
    const c = this.s[this.i];
    if (c === '&') return this.s[this.i + 1] === '&' ? '&&' : '&';
    if (c === '|') return this.s[this.i + 1] === '|' ? '||' : '|';
    if (c === ')' && this.depth > 0) return ')';
    return undefined;
  }

  sequence(): CmdNode {
    let left = this.andOr();
    while (this.peekOp() === '&') {
      this.i += 1;
      const right = this.andOr();
      left = { kind: '&', left, right };
    }
    return left;
  }

  private andOr(): CmdNode {
    let left = this.pipe();
    for (let op = this.peekOp(); op === '&&' || op === '||'; op = this.peekOp()) {
      this.i += 2;
      const right = this.pipe();
      if (isEmpty(right)) throw new CmdSyntaxError(INCORRECT);
      left = { kind: op, left, right };
    }
    return left;
  }

  private pipe(): CmdNode {
    let left = this.command();
    while (this.peekOp() === '|') {
      this.i += 1;
      const right = this.command();
      if (isEmpty(right)) throw new CmdSyntaxError(INCORRECT);
      left = { kind: '|', left, right };
    }
    return left;
  }

  private command(): CmdNode {
    const s = this.s;
    while (this.i < s.length && /[ \t,;=@]/.test(s[this.i]!)) this.i++;
    const op = this.peekOp();
    if (op && op !== ')') throw new CmdSyntaxError(`${op} was unexpected at this time.`);
    if (s[this.i] === '(') {
      this.i++;
      this.depth++;
      const body = this.sequence();
      if (s[this.i] !== ')') throw new CmdSyntaxError(INCORRECT);
      this.i++;
      this.depth--;
      const rest = this.simple();
      if (rest.text.trim()) throw new CmdSyntaxError(`${rest.text.trim().split(/\s/)[0]} was unexpected at this time.`);
      return { kind: 'group', body, redirects: rest.redirects };
    }
    return this.simple();
  }

  /** Text up to the next operator (or `)` closing a block), with carets and redirections taken out. */
  private simple(): { kind: 'simple'; text: string; redirects: Redirect[] } {
    const s = this.s;
    let text = '';
    let quoted = false;
    const redirects: Redirect[] = [];
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (quoted) {
        if (c === '"') quoted = false;
        text += c;
        this.i++;
        continue;
      }
      if (c === '"') {
        quoted = true;
        text += c;
        this.i++;
        continue;
      }
      if (c === '^') {
        // the escaped character is text, even a quote (which then does not toggle); a trailing caret vanishes
        if (this.i + 1 < s.length) text += s[this.i + 1];
        this.i += 2;
        continue;
      }
      if (this.peekOp()) break;
      if (c === '<' || c === '>') {
        let fd = c === '<' ? 0 : 1;
        const digit = /(^|[ \t])(\d)$/.exec(text);
        if (digit) {
          fd = Number(digit[2]);
          text = text.slice(0, -1);
        }
        redirects.push(this.redirect(fd));
        continue;
      }
      text += c;
      this.i++;
    }
    return { kind: 'simple', text, redirects };
  }

  private redirect(fd: number): Redirect {
    const s = this.s;
    let op: '<' | '>' | '>>' = s[this.i] === '<' ? '<' : '>';
    this.i++;
    if (op === '>' && s[this.i] === '>') {
      op = '>>';
      this.i++;
    }
    if (op !== '<' && s[this.i] === '&' && /\d/.test(s[this.i + 1] ?? '')) {
      this.i += 2;
      return { fd, op: '>&', to: Number(s[this.i - 1]) };
    }
    while (s[this.i] === ' ' || s[this.i] === '\t') this.i++;
    let target = '';
    let quoted = false;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (!quoted && (c === ' ' || c === '\t' || c === '<' || c === '>' || this.peekOp())) break;
      if (c === '"') quoted = !quoted;
      else if (c === '^' && !quoted && this.i + 1 < s.length) target += s[++this.i];
      else target += c;
      this.i++;
    }
    if (!target) throw new CmdSyntaxError(INCORRECT);
    return { fd, op, target };
  }
}

function isEmpty(n: CmdNode): boolean {
  return n.kind === 'simple' && !n.text.trim() && n.redirects.length === 0;
}

/** The program token of a simple command's text (quotes removed) and where it ends. */
export function commandToken(text: string): { name: string; end: number } {
  let i = 0;
  let name = '';
  let quoted = false;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quoted = !quoted;
    else if (!quoted && /[ \t,;=]/.test(c)) break;
    else name += c;
  }
  return { name, end: i };
}

/**
 * §2.7, the UCRT splitter AutoHotkey reads (post-2008 rules): argv[0] runs to the first unquoted space or tab and
 * `"` only toggles there; then spaces and tabs separate, `2n` backslashes + `"` give n backslashes and a quote
 * toggle, `2n+1` give n and a literal `"`, and `""` inside quotes is one literal `"` without leaving the quotes.
 */
export function ucrtArgv(line: string): string[] {
  return splitArgv(line, true);
}

/** CommandLineToArgvW (powershell.exe): the same, except that `""` inside quotes ends the quoted part. */
export function commandLineToArgvW(line: string): string[] {
  return splitArgv(line, false);
}

function splitArgv(line: string, ucrt: boolean): string[] {
  const n = line.length;
  let i = 0;
  let first = '';
  let quoted = false;
  for (; i < n; i++) {
    const c = line[i]!;
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) break;
    else first += c;
  }
  const out = [first];
  for (;;) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= n) return out;
    let arg = '';
    quoted = false;
    while (i < n) {
      const c = line[i]!;
      if (!quoted && (c === ' ' || c === '\t')) break;
      if (c === '\\') {
        let k = i;
        while (line[k] === '\\') k++;
        const count = k - i;
        if (line[k] === '"') {
          arg += '\\'.repeat(count >> 1);
          if (count % 2) {
            arg += '"';
            i = k + 1;
          } else i = k;
        } else {
          arg += '\\'.repeat(count);
          i = k;
        }
        continue;
      }
      if (c === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
          if (!ucrt) quoted = false;
          continue;
        }
        quoted = !quoted;
        i++;
        continue;
      }
      arg += c;
      i++;
    }
    out.push(arg);
  }
}

/**
 * §2.8, a compiled AutoHotkey v2 script: leading `/restart` and `/force` (any case, quoted or not) are consumed,
 * `/script` switches to script-host mode; the first other argument and everything after it are A_Args.
 */
export function ahkArgs(args: readonly string[]): { args: string[]; scriptMode: boolean } {
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!.toLowerCase();
    if (a === '/script') return { args: args.slice(i + 1), scriptMode: true };
    if (a !== '/restart' && a !== '/force') break;
  }
  return { args: args.slice(i), scriptMode: false };
}
