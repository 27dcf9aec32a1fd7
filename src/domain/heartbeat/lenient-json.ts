// A tolerant JSON reader for the Nov-2025 Lab Station, which wrote unescaped backslashes and raw newlines
// inside strings. JSON.parse is tried first; this runs only when it fails. Hand-written because a JSON5
// parser would still reject `C:\Users` (an invalid escape), which is exactly what these files contain.

export class LenientJsonError extends Error {
  constructor(message: string, readonly position: number) {
    super(message);
  }
}

export function parseLenientJson(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new LenientJsonError(`${what} at position ${i}`, i);
  };
  // A quote ends the string only when what follows can follow a string value or key.
  const closesString = (at: number) => {
    let j = at + 1;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++;
    return j >= text.length || ',:}]\r\n'.includes(text[j]!);
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"' && closesString(i)) {
        i++;
        return out;
      }
      if (c === '\\') {
        const n = text[i + 1];
        // A valid escape is honoured only when it cannot be a Windows path segment (\n in C:\new is ambiguous:
        // the old station never escaped backslashes, so a backslash is kept as written unless it escapes a quote
        // or another backslash).
        if (n === '"' || n === '\\') {
          out += n;
          i += 2;
          continue;
        }
        if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        out += c;
        i++;
        continue;
      }
      out += c;
      i++;
    }
    return fail('unterminated string');
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[k] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 64));
    if (!m) return fail(i >= text.length ? 'unexpected end of input' : `unexpected '${c}'`);
    i += m[0].length;
    return m[0] === 'true' ? true : m[0] === 'false' ? false : m[0] === 'null' ? null : Number(m[0]);
  };
  const v = value();
  ws();
  if (i < text.length) fail('unexpected data after the document');
  return v;
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
