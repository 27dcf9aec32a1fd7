// linuxmuster devices.csv: `;`-separated, no quoting, comments and blank lines kept. Every line keeps
// its original text, so lines nobody touched are written back byte for byte.

export type LineKind = 'row' | 'comment' | 'blank';

export interface CsvLine {
  /** 1-based line number in the file it came from (0 for lines made by labops) */
  lineNo: number;
  kind: LineKind;
  /** original text without the line ending; re-joined from `fields` only when `dirty` */
  text: string;
  /** the line ended in \r\n */
  cr: boolean;
  /** fields of a row (comment and blank lines have none) */
  fields: string[];
  dirty?: boolean;
}

export interface DevicesFile {
  lines: CsvLine[];
  /** whether the last line ended with a newline */
  finalNewline: boolean;
}

/** The worker's and the hook's comment rule: blank after trimming, or starting with `#` after trimming. */
export function classify(text: string): LineKind {
  const t = text.trim();
  if (t === '') return 'blank';
  if (t.startsWith('#')) return 'comment';
  return 'row';
}

export function parseDevicesCsv(text: string): DevicesFile {
  const lines: CsvLine[] = [];
  const raw = text.split('\n');
  const finalNewline = text.endsWith('\n');
  if (finalNewline) raw.pop();
  for (let i = 0; i < raw.length; i++) {
    let s = raw[i]!;
    const cr = s.endsWith('\r');
    if (cr) s = s.slice(0, -1);
    const kind = classify(s);
    lines.push({ lineNo: i + 1, kind, text: s, cr, fields: kind === 'row' ? s.split(';') : [] });
  }
  return { lines, finalNewline };
}

export function lineText(l: CsvLine): string {
  return l.dirty ? l.fields.join(';') : l.text;
}

export function serializeDevicesCsv(file: DevicesFile): string {
  const parts: string[] = new Array(file.lines.length);
  for (let i = 0; i < file.lines.length; i++) {
    const l = file.lines[i]!;
    parts[i] = l.cr ? `${lineText(l)}\r` : lineText(l);
  }
  const body = parts.join('\n');
  return file.lines.length && file.finalNewline ? `${body}\n` : body;
}

/** A new row made by labops. */
export function newRow(fields: string[], cr = false): CsvLine {
  return { lineNo: 0, kind: 'row', text: fields.join(';'), cr, fields, dirty: true };
}

/** Hostname key used for matching: trimmed and lowercased (NOTES §4.4). */
export function hostKey(fields: string[]): string {
  return (fields[1] ?? '').trim().toLowerCase();
}

/** Rows that are data (not comment or blank), the way the worker counts them in mergeStats. */
export function countRows(file: DevicesFile): number {
  let n = 0;
  for (const l of file.lines) if (l.kind === 'row') n++;
  return n;
}

/**
 * Decodes bytes as UTF-8, rejecting invalid sequences with the line where the first one is.
 * Returns the text, or the 1-based line of the first invalid byte.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { badLine: number } {
  try {
    let text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text };
  } catch {
    // find the first invalid byte by decoding line by line
    let line = 1;
    let start = 0;
    const dec = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 10) {
        try {
          dec.decode(bytes.subarray(start, i));
        } catch {
          return { badLine: line };
        }
        line++;
        start = i + 1;
      }
    }
    return { badLine: line };
  }
}
