// An explicit jump host as the operator writes it: user@host[:port], IPv6 in brackets.
import { UsageError } from './errors.js';

export function parseJump(text: string): { username: string; host: string; port: number } {
  const m = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new UsageError(`jump host '${text}': expected user@host[:port]`);
  const port = m[3] ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) throw new UsageError(`jump host '${text}': port out of range`);
  return { username: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port };
}
