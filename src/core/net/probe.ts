// Reachability probes: ICMP echo through the system `ping`, and TCP connect.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { ProbeSpec } from '../../domain/probe-spec.js';
import { childEnv } from '../child-env.js';

export interface ProbeResult {
  up: boolean;
  /** why it is down: timeout, refused, unreachable, no-ping-binary, … */
  reason?: string;
}

export function tcpProbe(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = () => finish({ up: false, reason: 'aborted' });
    const timer = setTimeout(() => finish({ up: false, reason: 'timeout' }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ up: true }));
    socket.once('error', (e: NodeJS.ErrnoException) =>
      finish({ up: false, reason: e.code === 'ECONNREFUSED' ? 'refused' : (e.code ?? 'error').toLowerCase() }),
    );
  });
}

// Spawns ping directly: the `ping` package rounds timeouts to whole seconds and cannot be aborted. The target follows
// `--`, so even a value that slipped past validation cannot become an option; ping gets no secrets in its environment.
export function icmpProbe(host: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const seconds = Math.max(0.2, timeoutMs / 1000).toFixed(1);
  const args = [...(host.includes(':') ? ['-6'] : []), '-n', '-c', '1', '-W', seconds, '--', host];
  return new Promise((resolve) => {
    execFile('ping', args, { signal, timeout: timeoutMs + 2000, env: childEnv(process.env) }, (err) => {
      if (!err) return resolve({ up: true });
      const e = err as NodeJS.ErrnoException & { code?: string | number };
      if (e.code === 'ENOENT') return resolve({ up: false, reason: 'no-ping-binary' });
      if (e.name === 'AbortError') return resolve({ up: false, reason: 'aborted' });
      resolve({ up: false, reason: 'timeout' });
    });
  });
}

export function probe(spec: ProbeSpec, host: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return spec.kind === 'icmp' ? icmpProbe(host, timeoutMs, signal) : tcpProbe(host, spec.port, timeoutMs, signal);
}
