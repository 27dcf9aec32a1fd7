// JSON text exactly as Python's json.dumps(obj) writes it (", " and ": " separators, ensure_ascii), so the
// raw_json labops stores is byte-for-byte what the ops-worker stored and the Lab Manager UI reads.
// Built on JSON.stringify (same escapes for quotes, backslashes and control characters): indented output
// already has Python's ": ", and its line breaks can only be structural (strings never hold a raw newline),
// so folding them gives Python's ", ". Several times faster than serialising by hand.

const NON_ASCII = /[\u007f-\uffff]/g;

const escapeNonAscii = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function pythonJsonDumps(v: unknown): string {
  const indented = JSON.stringify(v ?? null, null, 1) ?? 'null';
  const spaced = indented.replace(/,\n */g, ', ').replace(/\n */g, '');
  return spaced.replace(NON_ASCII, escapeNonAscii);
}
