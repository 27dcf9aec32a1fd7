// PowerShell CLIXML stderr -> plain text. Better than pywinrm's cleaner (NOTES §1.11): works on decoded text,
// handles several concatenated documents, decodes every _xHHHH_ escape, and drops progress records.
import { XmlFormatError, parseXml } from './xml.js';

const HEADER = '#< CLIXML';

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_m, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    return String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function decodePsEscapes(s: string): string {
  // _xHHHH_ encodes one UTF-16 code unit; surrogate pairs come as two escapes
  const units = s.replace(/_x([0-9A-Fa-f]{4})_/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return units.replace(/\r\n/g, '\n');
}

/**
 * Returns plain text. Input without CLIXML comes back unchanged; so does every document that is not valid CLIXML
 * (truncated, not well-formed) or carries no text records (progress only): never dropped, as pywinrm also keeps it.
 */
export function clixmlToText(stderr: string): string {
  if (!stderr.includes(HEADER)) return stderr;
  const pieces: string[] = [];
  const docs = stderr.split(HEADER);
  const before = docs.shift() ?? '';
  if (before.trim()) pieces.push(before.trim());
  for (const doc of docs) {
    const xml = doc.replace(/^\r?\n/, '');
    const end = xml.lastIndexOf('</Objs>');
    const inside = end >= 0 ? xml.slice(0, end + 7) : '';
    const text = /^<Objs[\s>]/.test(inside) && wellFormed(inside) ? recordsText(inside) : '';
    if (!text.trim()) {
      pieces.push(`${HEADER}${doc}`.replace(/\s+$/, ''));
      continue;
    }
    pieces.push(text.replace(/\s+$/, ''));
    const tail = xml.slice(end + 7).trim();
    if (tail) pieces.push(tail);
  }
  return pieces.join('\n');
}

function wellFormed(xml: string): boolean {
  try {
    parseXml(xml);
    return true;
  } catch (e) {
    if (e instanceof XmlFormatError) return false;
    throw e;
  }
}

/** The text of the top-level records: <S S="Error">text</S> (also Warning, Verbose, Debug, Information); progress is <Obj S="progress">. */
function recordsText(objs: string): string {
  let text = '';
  for (const r of objs.matchAll(/<S S="([^"]*)">([\s\S]*?)<\/S>/g)) text += decodePsEscapes(decodeEntities(r[2] ?? ''));
  return text;
}
