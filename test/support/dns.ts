// An authoritative DNS server for A records on a loopback UDP port (no DNS server package is installed
// here): answers per RFC 1035 §4.1 with the zone's address, NXDOMAIN for a name it does not have, and
// records every question, so a test can see which name was looked up.
import { createSocket, type Socket } from 'node:dgram';

export interface TestDns {
  /** host:port, for Resolver.setServers / --dns-server */
  server: string;
  /** the names asked for, in order */
  queries: string[];
  close(): Promise<void>;
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i]! > 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString('ascii'));
    i += msg[i]! + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

/** Starts the server; `zone` maps lowercase names to IPv4 addresses. */
export async function startDns(zone: Record<string, string>): Promise<TestDns> {
  const queries: string[] = [];
  const sock: Socket = createSocket('udp4');
  sock.on('message', (msg, from) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const qtype = msg.readUInt16BE(end);
    queries.push(name);
    const question = msg.subarray(12, end + 4);
    const address = qtype === 1 ? zone[name] : undefined;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // ID
    // QR, AA, RD copied; RCODE 3 (NXDOMAIN) when the name is not in the zone
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (address || zone[name] ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(address ? 1 : 0, 6);
    const answer = address
      ? Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(address.split('.').map(Number))])
      : Buffer.alloc(0);
    sock.send(Buffer.concat([header, question, answer]), from.port, from.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  return {
    server: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
}
