// A tolerant JSON reader for the Nov-2025 Lab Station, which wrote unescaped backslashes and raw newlines
// inside strings. JSON.parse is tried first; this runs only when it fails. Hand-written because a JSON5
// parser would still reject `C:\Users` (an invalid escape), which is exactly what these files contain.
import { MAX_DEPTH } from './decode.js';

export class LenientJsonError extends Error {
  constructor(message: string, readonly position: number) {
    super(message);
  }
}

export function parseLenientJson(text: string): unknown {
  const reader = new LenientJsonReader(text);
  const v = reader.value();
  reader.end();
  return v;
}

/** A recursive-descent reader over `text`: one method per kind of value. */
class LenientJsonReader {
  private i = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  value(): unknown {
    this.ws();
    const c = this.text[this.i];
    if (c === '{' || c === '[') {
      // recursive descent: past MAX_DEPTH the document is refused, before the call stack could overflow
      if (++this.depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
      const v = c === '{' ? this.object() : this.array();
      this.depth--;
      return v;
    }
    if (c === '"') return this.string();
    return this.literal();
  }

  /** Only whitespace may follow the document. */
  end(): void {
    this.ws();
    if (this.i < this.text.length) this.fail('unexpected data after the document');
  }

  private object(): Record<string, unknown> {
    const { text } = this;
    this.i++;
    const obj: Record<string, unknown> = {};
    this.ws();
    if (text[this.i] === '}') {
      this.i++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (text[this.i] !== '"') this.fail('expected a key');
      const k = this.string();
      this.ws();
      if (text[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      const v = this.value();
      // as JSON.parse: "__proto__" is a key like any other; assigned, it would set the object's prototype
      if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[k] = v;
      if (!this.another('}')) return obj;
    }
  }

  private array(): unknown[] {
    const { text } = this;
    this.i++;
    const arr: unknown[] = [];
    this.ws();
    if (text[this.i] === ']') {
      this.i++;
      return arr;
    }
    for (;;) {
      arr.push(this.value());
      if (!this.another(']')) return arr;
    }
  }

  /** After a member or element: true past a `,` (another follows), false past the closing bracket. */
  private another(close: '}' | ']'): boolean {
    this.ws();
    const c = this.text[this.i];
    if (c !== ',' && c !== close) this.fail(`expected ',' or '${close}'`);
    this.i++;
    return c === ',';
  }

  private string(): string {
    const { text } = this;
    this.i++; // opening quote
    let out = '';
    while (this.i < text.length) {
      const c = text[this.i]!;
      if (c === '"' && this.closesString(this.i)) {
        this.i++;
        return out;
      }
      if (c === '\\') {
        out += this.escape();
        continue;
      }
      out += c;
      this.i++;
    }
    return this.fail('unterminated string');
  }

  /** A quote ends the string only when what follows can follow a string value or key. */
  private closesString(at: number): boolean {
    const { text } = this;
    let j = at + 1;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    return j >= text.length || ',:}]\r\n'.includes(text[j]!);
  }

  /**
   * The text a backslash starts. A valid escape is honoured only when it cannot be a Windows path segment (\n in
   * C:\new is ambiguous: the old station never escaped backslashes, so a backslash is kept as written unless it
   * escapes a quote or another backslash).
   */
  private escape(): string {
    const { text, i } = this;
    const n = text[i + 1];
    if (n === '"' || n === '\\') {
      this.i += 2;
      return n;
    }
    if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
      this.i += 6;
      return String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
    }
    this.i++;
    return '\\';
  }

  /** true, false, null or a number. */
  private literal(): unknown {
    const { text, i } = this;
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 64));
    if (!m) return this.fail(i >= text.length ? 'unexpected end of input' : `unexpected '${text[i]}'`);
    this.i += m[0].length;
    return m[0] === 'true' ? true : m[0] === 'false' ? false : m[0] === 'null' ? null : Number(m[0]);
  }

  private ws(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i]!)) this.i++;
  }

  private fail(what: string): never {
    throw new LenientJsonError(`${what} at position ${this.i}`, this.i);
  }
}

/** AHK arrays written as {"1":…,"2":…}: turned back into arrays (only for repaired documents). */
export function unAhkArrays(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unAhkArrays);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length > 0 && keys.every((k, idx) => k === String(idx + 1))) return keys.map((k) => unAhkArrays((v as Record<string, unknown>)[k]));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unAhkArrays(x)]));
  }
  return v;
}
