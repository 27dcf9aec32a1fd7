// MAC address parsing: colon, dash, dot (Cisco 0011.2233.4455) or bare hex, any case.

const FORMS: readonly RegExp[] = [
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i,
];

/** Returns the canonical lower-case colon form, or undefined when `text` is not a MAC. */
export function parseMac(text: string): string | undefined {
  const trimmed = text.trim();
  for (const form of FORMS) {
    const m = form.exec(trimmed);
    if (m) {
      // A colon/dash MAC must use one separator throughout.
      if (form === FORMS[0] && new Set(trimmed.replace(/[0-9a-f]/gi, '')).size !== 1) return undefined;
      return m.slice(1, 7).join(':').toLowerCase();
    }
  }
  return undefined;
}

/** Shaped like a MAC (so a typo is reported as a bad MAC, not as an unknown host name). */
export function looksLikeMac(text: string): boolean {
  const t = text.trim();
  return /^[0-9a-z]{1,2}(:[0-9a-z]{1,2}){2,}$/i.test(t) || /^[0-9a-z]{2}(-[0-9a-z]{2}){4,6}$/i.test(t) || /^[0-9a-z]{4}(\.[0-9a-z]{4}){2}$/i.test(t);
}

/** The 102-byte magic packet: six 0xFF then the MAC sixteen times. */
export function magicPacket(mac: string): Uint8Array {
  const canonical = parseMac(mac);
  if (!canonical) throw new Error(`not a MAC address: ${mac}`);
  const bytes = canonical.split(':').map((h) => parseInt(h, 16));
  const packet = new Uint8Array(102);
  packet.fill(0xff, 0, 6);
  for (let i = 0; i < 16; i++) packet.set(bytes, 6 + i * 6);
  return packet;
}

/** Extracts the target MAC from a magic packet, or undefined when the payload is not one. */
export function macFromMagicPacket(payload: Uint8Array): string | undefined {
  // Packets may carry a 4- or 6-byte SecureOn password after the 102 bytes.
  if (payload.length < 102) return undefined;
  for (let i = 0; i < 6; i++) if (payload[i] !== 0xff) return undefined;
  const mac = payload.subarray(6, 12);
  for (let i = 1; i < 16; i++) {
    for (let j = 0; j < 6; j++) if (payload[6 + i * 6 + j] !== mac[j]) return undefined;
  }
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
