// What may name a host on the network: an IP address or a DNS host name. Such a value reaches programs (the
// system ping) and sockets, so nothing else passes: no leading dash (an option), no spaces, quotes or `;`.
import { isIP } from 'node:net';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** An IPv4 or IPv6 address, or a DNS host name (letters, digits and inner dashes per label, at most 253 characters). */
export function isHostAddress(text: string): boolean {
  if (isIP(text)) return true;
  if (text.length === 0 || text.length > 253) return false;
  return text.replace(/\.$/, '').split('.').every((l) => LABEL.test(l));
}
