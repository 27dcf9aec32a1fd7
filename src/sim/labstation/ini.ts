// data\service-state.ini as the station keeps it (reference NOTES §3.5): AHK IniWrite semantics.
// IniWrite sets one key at a time: an existing key keeps its place, a new key goes to the end of its
// section, a new section to the end of the file, and keys from earlier writes survive (stale keys).
// The file is UTF-16LE with a BOM, CRLF, no blank lines; numbers and booleans are written as integers.

export type IniScalar = string | number | boolean;
export type IniTyped = string | number | boolean;

export class IniDocument {
  private readonly sections: { name: string; entries: [string, string][] }[] = [];

  /** IniWrite of every key of `values`, in sorted key order (the station iterates an AHK Map). */
  writeSection(section: string, values: Record<string, IniScalar | undefined>): void {
    for (const key of Object.keys(values).sort()) {
      const v = values[key];
      if (v === undefined) continue;
      this.set(section, key, v);
    }
  }

  set(section: string, key: string, value: IniScalar): void {
    const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    let s = this.sections.find((x) => x.name.toLowerCase() === section.toLowerCase());
    if (!s) {
      s = { name: section, entries: [] };
      this.sections.push(s);
    }
    const e = s.entries.find(([k]) => k.toLowerCase() === key.toLowerCase());
    if (e) e[1] = text;
    else s.entries.push([key, text]);
  }

  /** The raw key=value strings of a section, in file order. */
  rawSection(section: string): [string, string][] {
    return [...(this.sections.find((x) => x.name.toLowerCase() === section.toLowerCase())?.entries ?? [])];
  }

  /** A section read back the way the station's ServiceState reader types values. */
  readSection(section: string): Record<string, IniTyped> {
    const out: Record<string, IniTyped> = {};
    for (const [k, v] of this.rawSection(section)) out[k] = typeIniValue(v);
    return out;
  }

  get sectionNames(): string[] {
    return this.sections.map((s) => s.name);
  }

  toText(): string {
    const lines: string[] = [];
    for (const s of this.sections) {
      lines.push(`[${s.name}]`);
      for (const [k, v] of s.entries) lines.push(`${k}=${v}`);
    }
    return lines.map((l) => `${l}\r\n`).join('');
  }

  /** The file's bytes: UTF-16LE with a BOM. */
  encode(): Buffer {
    return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(this.toText(), 'utf16le')]);
  }

  /** Read a file back (UTF-16LE with BOM, or UTF-8 with or without BOM), tolerating blank lines. */
  static decode(bytes: Buffer): IniDocument {
    let text: string;
    if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) text = bytes.subarray(2).toString('utf16le');
    else if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) text = bytes.subarray(3).toString('utf8');
    else text = bytes.toString('utf8');
    const doc = new IniDocument();
    let section: string | undefined;
    for (const line of text.split(/\r?\n/)) {
      const t = line.trim();
      if (!t || t.startsWith(';')) continue;
      const m = /^\[(.+)\]$/.exec(t);
      if (m) {
        section = m[1]!;
        continue;
      }
      const eq = line.indexOf('=');
      if (section === undefined || eq < 0) continue;
      doc.set(section, line.slice(0, eq).trim(), line.slice(eq + 1));
    }
    return doc;
  }
}

/** true/on/1 → true, false/off/0 → false, ^-?\d+$ → integer, anything else stays a string. */
export function typeIniValue(v: string): IniTyped {
  const l = v.trim().toLowerCase();
  if (l === 'true' || l === 'on' || l === '1') return true;
  if (l === 'false' || l === 'off' || l === '0') return false;
  if (/^-?\d+$/.test(v.trim())) return Number.parseInt(v.trim(), 10);
  return v;
}
