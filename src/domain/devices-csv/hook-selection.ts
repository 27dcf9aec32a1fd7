// Which hosts the DHCP hook patches (NOTES §6.4): delta rows with ≥11 fields, a valid host name and a
// numeric pxe flag ≥ 1. labops rejects short rows instead of skipping them silently.
// Reads the text directly rather than through parseDevicesCsv: the hook runs on every device import and
// needs two fields of each row, so it finds the separators with indexOf and splits nothing. The rows,
// comments and blank lines it sees are exactly parseDevicesCsv's (a unit test holds the two together).
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
