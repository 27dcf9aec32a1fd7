// Which hosts the DHCP hook patches (NOTES §6.4): delta rows with ≥11 fields, a valid host name and a
// numeric pxe flag ≥ 1. labops rejects short rows instead of skipping them silently.
// Reads the text directly rather than through parseDevicesCsv: the hook runs on every device import and
// needs two fields of each row, so it splits nothing. The rows, comments and blank lines it sees are exactly
// parseDevicesCsv's (a unit test holds the readers here to it).
import { classify } from './parse.js';

export interface PxeSelection {
  /** lowercase host names, in delta order, without duplicates */
  hosts: string[];
  /** rows too short to carry a pxe flag: input errors */
  shortRows: { line: number; fields: number }[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/;
const PXE_RE = /^\d+$/;

export function selectPxeHosts(text: string): PxeSelection {
  return selectFromPlainRows(text) ?? selectByLines(text);
}

// The delta as the LINBO Docker API writes it: rows of at least 11 fields that start with a printable ASCII
// character, `#` comments and blank lines. One native regular-expression match per row checks the name and the
// pxe flag too (NAME_RE; digits, not all zeros); anything else (a short row, a line starting with a space or a
// non-ASCII character) returns undefined and selectByLines reads the file.
const FIELD = '[^\\n;]*;';
const GAP_LINE = '(?:#[^\\n]*|\\r)?\\n';
// groups: 1 the host name when valid, 2 the pxe flag when ≥ 1 (without the CR of a last field)
const PLAIN_ROW_Y = new RegExp(
  `(?:${GAP_LINE})*(?=[!-"$-~])${FIELD}(?:([a-zA-Z0-9][a-zA-Z0-9-]*);|${FIELD})(?:${FIELD}){8}(?:(\\d*[1-9]\\d*)(?:;[^\\n]*)?\\r?(?:\\n|$)|[^\\n]*(?:\\n|$))`,
  'y',
);
const PLAIN_END_Y = new RegExp(`(?:${GAP_LINE})*(?:#[^\\n]*|\\r)?$`, 'y');

/** exported for the test that holds it to selectByLines */
export function selectFromPlainRows(text: string): PxeSelection | undefined {
  const hosts: string[] = [];
  const seen = new Set<string>();
  const len = text.length;
  let pos = 0;
  while (pos < len) {
    PLAIN_ROW_Y.lastIndex = pos;
    const m = PLAIN_ROW_Y.exec(text);
    if (!m) {
      PLAIN_END_Y.lastIndex = pos;
      if (PLAIN_END_Y.test(text)) break;
      return undefined;
    }
    pos = PLAIN_ROW_Y.lastIndex;
    if (m[1] === undefined || m[2] === undefined) continue;
    const key = m[1].toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    hosts.push(key);
  }
  return { hosts, shortRows: [] };
}

/** The general reader: line by line, the separators found with indexOf. */
export function selectByLines(text: string): PxeSelection {
  const hosts: string[] = [];
  const seen = new Set<string>();
  const shortRows: PxeSelection['shortRows'] = [];
  // ends[k]: offset of the (k+1)-th ';' of the current row (its line end when there are fewer)
  const ends: number[] = new Array(11);
  const len = text.length;
  // The next ';' at or after the current line, kept across lines so a file with few separators stays linear.
  let semi = -1;
  let lineNo = 0;
  for (let start = 0; start < len; ) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = len;
    lineNo++;
    let stop = nl;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    const lineStart = start;
    start = nl + 1;
    if (stop === lineStart) continue;
    // parseDevicesCsv's classify(), without a slice when the line starts with a printable ASCII character
    const c = text.charCodeAt(lineStart);
    if (c > 32 && c < 127) {
      if (c === 35) continue;
    } else if (classify(text.slice(lineStart, stop)) !== 'row') continue;
    let fields = 1;
    let from = lineStart;
    while (fields <= 11) {
      if (semi < from) {
        semi = text.indexOf(';', from);
        if (semi < 0) semi = len;
      }
      if (semi >= stop) break;
      ends[fields - 1] = semi;
      fields++;
      from = semi + 1;
    }
    if (fields < 11) {
      shortRows.push({ line: lineNo, fields });
      continue;
    }
    const name = text.slice(ends[0]! + 1, ends[1]!);
    const pxe = text.slice(ends[9]! + 1, fields > 11 ? ends[10]! : stop);
    if (!NAME_RE.test(name) || !PXE_RE.test(pxe) || Number(pxe) < 1) continue;
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    hosts.push(key);
  }
  return { hosts, shortRows };
}
