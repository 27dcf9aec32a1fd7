// Runs one command on a host over SSH (ssh2): known_hosts verification, password/key/agent auth, an
// optional jump host (direct-tcpip through it), an overall timeout that kills the remote process
// group (signal KILL, then close the channel) and bounded output.
import ssh2 from 'ssh2';
import type { Client as Ssh2Client, ClientChannel, ConnectConfig } from 'ssh2';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { BoundedCapture } from './capture.js';
import { SshAuthFailed, SshHostKeyRejected, SshUnreachable } from './errors.js';
import { appendKnownHost, fingerprint, KnownHosts, keyTypeOf, knownHostName, preferredHostKeyAlgorithms } from './known-hosts.js';

const { Client } = ssh2;

export interface SshEndpoint {
  host: string;
  port: number;
  username: string;
  password?: string | null;
  /** PEM/OpenSSH private key text */
  privateKey?: string | Buffer;
  passphrase?: string;
  /** path of an ssh-agent socket */
  agent?: string;
}

export type HostKeyMode = 'strict' | 'accept-new';

export interface SshOptions {
  knownHostsFile: string;
  hostKeyMode: HostKeyMode;
  connectTimeoutMs: number;
  /** kept per stream (stdout, stderr): head and tail */
  maxOutputBytes: number;
  /** an explicit jump host; every connection goes through it */
  jump?: SshEndpoint;
  /**
   * Channels run at once over one pooled connection (OpenSSH's MaxSessions defaults to 10). 0 or 1
   * opens a connection per command. Pooled connections are closed by close().
   */
  channelsPerConnection?: number;
  /** called when accept-new records a key */
  onHostKeyAccepted?: (e: { host: string; port: number; keyType: string; fingerprint: string; file: string }) => void;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RemoteResult {
  /** null when killed by a signal */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  interrupted: boolean;
  durationMs: number;
}

/** The ssh2 private key: the text itself, or read from `file:/path`-style paths by the caller. */
export function readPrivateKey(path: string): Buffer {
  return readFileSync(path);
}

function classifyConnectError(err: Error & { level?: string; code?: string }, where: string, hostKeyProblem: Error | undefined): Error {
  if (hostKeyProblem) return hostKeyProblem;
  if (err.level === 'client-authentication') return new SshAuthFailed(`${where}: authentication failed (${err.message})`);
  if (err.level === 'client-timeout') return new SshUnreachable(`${where}: timed out during the SSH handshake`);
  const code = err.code ? ` (${err.code})` : '';
  return new SshUnreachable(`${where}: ${err.message}${code}`);
}

export class SshRunner {
  constructor(private readonly opts: SshOptions) {}

  private verifier(host: string, port: number, setProblem: (e: Error) => void, pending: Promise<void>[]) {
    return (key: Buffer): boolean => {
      const known = KnownHosts.load(this.opts.knownHostsFile);
      const check = known.check(host, port, key);
      const name = knownHostName(host, port);
      const fp = fingerprint(key);
      if (check.status === 'ok') return true;
      if (check.status === 'revoked') {
        setProblem(new SshHostKeyRejected(`${name}: host key ${fp} is marked @revoked in ${this.opts.knownHostsFile}:${check.line}`));
        return false;
      }
      if (check.status === 'changed') {
        setProblem(
          new SshHostKeyRejected(
            `${name}: HOST KEY CHANGED: the server presented ${keyTypeOf(key)} ${fp}, but ${this.opts.knownHostsFile}:${check.line} holds a different ${check.knownType} key; refusing to connect (possible man-in-the-middle)`,
            { suggestion: `if the change is expected, remove the old key: ssh-keygen -R '${name}' -f ${this.opts.knownHostsFile}` },
          ),
        );
        return false;
      }
      if (this.opts.hostKeyMode !== 'accept-new') {
        setProblem(
          new SshHostKeyRejected(`${name}: unknown host key ${keyTypeOf(key)} ${fp} (not in ${this.opts.knownHostsFile})`, {
            suggestion: `verify the fingerprint and add it (ssh-keyscan -p ${port} ${host} >> ${this.opts.knownHostsFile}), or choose the accept-new host key policy`,
          }),
        );
        return false;
      }
      pending.push(
        appendKnownHost(this.opts.knownHostsFile, host, port, key).then(() =>
          this.opts.onHostKeyAccepted?.({ host, port, keyType: keyTypeOf(key), fingerprint: fp, file: this.opts.knownHostsFile }),
        ),
      );
      return true;
    };
  }

  private async connect(ep: SshEndpoint, sock?: NodeJS.ReadableStream): Promise<Ssh2Client> {
    const where = `${ep.username}@${knownHostName(ep.host, ep.port)}`;
    let hostKeyProblem: Error | undefined;
    const pending: Promise<void>[] = [];
    const known = KnownHosts.load(this.opts.knownHostsFile);
    const algos = preferredHostKeyAlgorithms(known.knownKeyTypes(ep.host, ep.port));
    const config: ConnectConfig = {
      host: ep.host,
      port: ep.port,
      username: ep.username,
      readyTimeout: this.opts.connectTimeoutMs,
      hostVerifier: this.verifier(ep.host, ep.port, (e) => (hostKeyProblem = e), pending),
      tryKeyboard: false,
      keepaliveInterval: 15_000,
      ...(algos ? { algorithms: { serverHostKey: algos as never } } : {}),
      ...(ep.password ? { password: ep.password } : {}),
      ...(ep.privateKey ? { privateKey: ep.privateKey, passphrase: ep.passphrase } : {}),
      ...(ep.agent ? { agent: ep.agent } : {}),
      ...(sock ? { sock: sock as never } : {}),
    };
    if (!ep.password && !ep.privateKey && !ep.agent) {
      throw new SshAuthFailed(`${where}: no credentials: no password, private key or agent configured`);
    }
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        client.removeListener('ready', onReady);
        client.end();
        reject(classifyConnectError(err, where, hostKeyProblem));
      };
      const onReady = () => {
        client.removeListener('error', onError);
        resolve();
      };
      client.once('ready', onReady);
      client.once('error', onError);
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously on a malformed private key
        client.removeListener('error', onError);
        reject(new SshAuthFailed(`${where}: cannot use the private key: ${(e as Error).message}`));
      }
    });
    // A later protocol error must not crash the process; the exec path reports it.
    client.on('error', () => {});
    await Promise.all(pending);
    return client;
  }

  /** Opens the connection (through the jump host when configured); the caller ends it. */
  async open(target: SshEndpoint): Promise<{ client: Ssh2Client; close(): void }> {
    if (!this.opts.jump) {
      const client = await this.connect(target);
      return { client, close: () => client.end() };
    }
    const jump = await this.connect(this.opts.jump);
    try {
      const stream = await new Promise<ClientChannel>((resolve, reject) =>
        jump.forwardOut('127.0.0.1', 0, target.host, target.port, (err, s) =>
          err ? reject(new SshUnreachable(`jump host ${this.opts.jump!.host}: cannot reach ${knownHostName(target.host, target.port)}: ${err.message}`)) : resolve(s),
        ),
      );
      const client = await this.connect(target, stream);
      return {
        client,
        close: () => {
          client.end();
          jump.end();
        },
      };
    } catch (e) {
      jump.end();
      throw e;
    }
  }

  private readonly pool = new Map<string, PooledConnection[]>();
  private closed = false;

  private poolKey(t: SshEndpoint): string {
    const secret = createHash('sha256').update(`${t.password ?? ''}\0${t.privateKey ?? ''}\0${t.agent ?? ''}`).digest('hex');
    return `${t.username}@${t.host}:${t.port}#${secret}`;
  }

  private async acquire(target: SshEndpoint): Promise<PooledConnection> {
    const max = this.opts.channelsPerConnection ?? 0;
    if (max <= 1 || this.closed) {
      const conn = await this.open(target);
      return { ...conn, inUse: 1, max: 1, alive: true, pooled: false };
    }
    const key = this.poolKey(target);
    const list = this.pool.get(key) ?? [];
    this.pool.set(key, list);
    const free = list.find((c) => c.alive && c.inUse < c.max);
    if (free) {
      clearTimeout(free.idleTimer);
      free.inUse++;
      return free;
    }
    // Reserve the slot before connecting so concurrent callers share the new connection.
    const pending: PooledConnection = { client: undefined as never, close: () => {}, inUse: 1, max, alive: true, pooled: true, ready: undefined };
    list.push(pending);
    pending.ready = this.open(target).then(
      (conn) => {
        pending.client = conn.client;
        pending.close = conn.close;
        // up to `max` commands at once each wait for the connection's close
        conn.client.setMaxListeners(max + 10);
        conn.client.on('close', () => {
          pending.alive = false;
          const i = list.indexOf(pending);
          if (i >= 0) list.splice(i, 1);
        });
      },
      (e) => {
        pending.alive = false;
        const i = list.indexOf(pending);
        if (i >= 0) list.splice(i, 1);
        throw e;
      },
    );
    await pending.ready;
    return pending;
  }

  private release(c: PooledConnection): void {
    c.inUse--;
    if (!c.pooled || this.closed) return c.close();
    if (c.inUse === 0) {
      // An idle pooled connection is not kept for long: the next pass may be minutes away.
      clearTimeout(c.idleTimer);
      c.idleTimer = setTimeout(() => {
        if (c.inUse > 0) return;
        c.alive = false;
        c.close();
      }, 2000);
      c.idleTimer.unref();
    }
  }

  /** Ends every pooled connection. */
  close(): void {
    this.closed = true;
    for (const list of this.pool.values()) for (const c of list) if (c.client) c.close();
    this.pool.clear();
  }

  /** Runs `command` (already quoted) and returns its exit status and bounded output. */
  async run(target: SshEndpoint, command: string, ro: RunOptions): Promise<RemoteResult> {
    if (ro.signal?.aborted) return emptyInterrupted();
    // One listener per command in flight; concurrency is bounded by the callers.
    if (ro.signal) setMaxListeners(0, ro.signal);
    let conn = await this.acquire(target);
    if (conn.ready) await conn.ready;
    const started = Date.now();
    try {
      return await execOn(conn.client, command, ro, this.opts.maxOutputBytes, started);
    } catch (e) {
      // The server refused another channel on this connection (its MaxSessions): use a fresh one.
      if (!(e instanceof ChannelRefused) || !conn.pooled) throw e;
      conn.max = Math.max(1, conn.inUse - 1);
      this.release(conn);
      conn = await this.open(target).then((c) => ({ ...c, inUse: 1, max: 1, alive: true, pooled: false }));
      return await execOn(conn.client, command, ro, this.opts.maxOutputBytes, started);
    } finally {
      this.release(conn);
    }
  }
}

interface PooledConnection {
  client: Ssh2Client;
  close(): void;
  inUse: number;
  max: number;
  alive: boolean;
  pooled: boolean;
  ready?: Promise<void>;
  idleTimer?: NodeJS.Timeout;
}

class ChannelRefused extends SshUnreachable {}

function emptyInterrupted(): RemoteResult {
  return { code: null, signal: null, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false, timedOut: false, interrupted: true, durationMs: 0 };
}

function execOn(client: Ssh2Client, command: string, ro: RunOptions, maxBytes: number, started: number): Promise<RemoteResult> {
  return new Promise<RemoteResult>((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(/open failed|administratively prohibited|Channel open failure/i.test(err.message) ? new ChannelRefused(err.message) : new SshUnreachable(`cannot start the remote command: ${err.message}`));
      const out = new BoundedCapture(maxBytes);
      const errOut = new BoundedCapture(maxBytes);
      let timedOut = false;
      let interrupted = false;
      let code: number | null = null;
      let sig: string | null = null;
      let settled = false;
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.on('data', (d: Buffer) => errOut.push(d));
      stream.on('exit', (c: number | null, s?: string) => {
        code = typeof c === 'number' ? c : null;
        sig = s ?? null;
      });
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(grace);
        ro.signal?.removeEventListener('abort', onAbort);
        // a pooled connection carries many commands over its life: drop this one's listener
        client.removeListener('close', finish);
        resolve({
          code: timedOut || interrupted ? null : code,
          signal: sig,
          stdout: out.toString(),
          stderr: errOut.toString(),
          stdoutTruncated: out.truncated,
          stderrTruncated: errOut.truncated,
          timedOut,
          interrupted,
          durationMs: Date.now() - started,
        });
      };
      let grace: NodeJS.Timeout | undefined;
      const kill = () => {
        // sshd delivers the signal to the session's process group; closing the channel covers servers
        // that ignore signal requests, and the grace timer covers a server that never answers at all.
        try {
          stream.signal('KILL');
        } catch {
          // channel already gone
        }
        stream.close();
        grace = setTimeout(finish, 2000);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, ro.timeoutMs);
      const onAbort = () => {
        interrupted = true;
        kill();
      };
      ro.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('close', finish);
      client.once('close', finish);
    });
  });
}
