// A real redis-server on a free loopback port in a temp dir, for the Redis Streams tests.
// restart() stops it and starts it again on the same port and dir (append-only file kept, so the
// streams and the consumer group survive, as they do on a production Redis with persistence).
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort, requireBinary, waitFor } from './services.js';
import { tempDir } from './tmp.js';

export interface TestRedis {
  host: string;
  port: number;
  password?: string;
  url: string;
  dir: string;
  /** stop (SIGTERM, wait for exit) and start again; a new password can be given */
  restart(o?: { password?: string; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

export function redisAvailable(): boolean {
  return requireBinary(undefined, 'redis-server', CANDIDATES) !== undefined;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export async function startRedis(o: { password?: string; persist?: boolean } = {}): Promise<TestRedis> {
  const bin = requireBinary(undefined, 'redis-server', CANDIDATES);
  if (!bin) throw new Error('redis-server not installed');
  const dir = tempDir('labops-redis-');
  const port = await freePort();
  let password = o.password;
  let child: ChildProcess | undefined;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--daemonize', 'no', '--logfile', join(dir.path, 'redis.log')];
    if (o.persist !== false) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    if (password) args.push('--requirepass', password);
    child = spawn(bin, args, { stdio: 'ignore' });
    await waitFor(() => ping(port), `redis-server on port ${port}`);
  };
  const stopChild = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await launch();
  const r: TestRedis = {
    host: '127.0.0.1',
    port,
    dir: dir.path,
    get password() {
      return password;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    async restart(ro = {}) {
      await stopChild();
      if (ro.downMs) await new Promise((res) => setTimeout(res, ro.downMs));
      if ('password' in ro) password = ro.password;
      await launch();
    },
    async stop() {
      await stopChild();
      dir.cleanup();
    },
  };
  return r;
}
