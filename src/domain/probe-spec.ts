// How a host's boot is validated: ICMP echo (system ping) or a TCP connect to a port.

export type ProbeSpec = { kind: 'icmp' } | { kind: 'tcp'; port: number };

export function parseProbeSpec(text: string): ProbeSpec | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'icmp' || t === 'ping') return { kind: 'icmp' };
  const m = /^tcp:(\d{1,5})$/.exec(t);
  if (m) {
    const port = Number(m[1]);
    if (port >= 1 && port <= 65535) return { kind: 'tcp', port };
  }
  return undefined;
}

export function formatProbeSpec(p: ProbeSpec): string {
  return p.kind === 'icmp' ? 'icmp' : `tcp:${p.port}`;
}
