// GET /api/heartbeat/stream (reference HEAD-API §4): Server-Sent Events `heartbeat` ({heartbeat, last_event,
// host}) after each poll and `error` when a poll fails, in the head worker's format. Unlike upstream, where each
// stream held one of four worker threads and polled on its own, streams of the same host share one poller: a
// stream costs a socket, not a thread or a WinRM session, and 50 of them leave the API answering. Headers go out
// at once (EventSource opens), a comment line keeps idle streams alive under the proxy's read timeout, a
// consumer that stops reading is dropped, and shutdown ends every stream cleanly.
import type { ServerResponse } from 'node:http';
import { setMaxListeners } from 'node:events';
import type { InventoryHost } from '../../core/config/inventory.js';
import { pythonDumps } from '../../domain/reservations/wire.js';
import type { PollAnswer } from './station-routes.js';

export interface StreamHubOptions {
  poll(host: InventoryHost, events: boolean, signal: AbortSignal): Promise<PollAnswer>;
  intervalMs: number;
  keepAliveMs: number;
  maxStreams: number;
  /** a new request id for an error event */
  requestId(): string;
  log?(level: 'info' | 'warn' | 'error', message: string): void;
}

/** Bytes a consumer may leave unread before it is dropped (a heartbeat event is ~10–20 KiB). */
const MAX_BACKLOG = 1024 * 1024;

interface Subscriber {
  res: ServerResponse;
  lastWrite: number;
  keepAlive: NodeJS.Timeout;
}

/** One host's poller and the streams that listen to it. */
class Channel {
  readonly subscribers = new Set<Subscriber>();
  private last: string | undefined;
  private readonly stop = new AbortController();

  constructor(
    private readonly hub: StreamHubOptions,
    private readonly host: InventoryHost,
    private readonly events: boolean,
    private readonly onIdle: () => void,
  ) {
    setMaxListeners(0, this.stop.signal);
    void this.run();
  }

  add(s: Subscriber): void {
    this.subscribers.add(s);
    // a stream that joins a running poller gets the latest event at once, not after the next interval
    if (this.last) this.write(s, this.last);
  }

  remove(s: Subscriber): void {
    this.subscribers.delete(s);
    clearInterval(s.keepAlive);
    if (this.subscribers.size === 0) {
      this.stop.abort();
      this.onIdle();
    }
  }

  close(): void {
    this.stop.abort();
    for (const s of [...this.subscribers]) {
      clearInterval(s.keepAlive);
      s.res.end();
    }
    this.subscribers.clear();
  }

  write(s: Subscriber, text: string): void {
    if (s.res.writableLength > MAX_BACKLOG) {
      this.hub.log?.('warn', `event stream of ${this.host.name}: the consumer stopped reading; closed`);
      s.res.destroy();
      return;
    }
    s.res.write(text);
    s.lastWrite = Date.now();
  }

  private async pollOnce(): Promise<string> {
    try {
      const r = await this.hub.poll(this.host, this.events, this.stop.signal);
      return `event: heartbeat\ndata: ${pythonDumps({ heartbeat: r.heartbeat, last_event: r.last_event, host: this.host.name })}\n\n`;
    } catch (e) {
      const requestId = this.hub.requestId();
      this.hub.log?.('error', `${HEARTBEAT_EVENTS} ${this.host.name} [${requestId}]: ${(e as Error).message}`);
      return `event: error\ndata: ${pythonDumps({ error: 'Internal server error', code: 'INTERNAL_ERROR', requestId, host: this.host.name })}\n\n`;
    }
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      const text = await this.pollOnce();
      if (this.stop.signal.aborted) return;
      this.last = text.startsWith('event: heartbeat') ? text : this.last;
      for (const s of [...this.subscribers]) this.write(s, text);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.hub.intervalMs);
        this.stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}

const HEARTBEAT_EVENTS = 'GET /api/heartbeat/stream';

export class StreamHub {
  private readonly channels = new Map<string, Channel>();
  private open = 0;
  private closed = false;

  constructor(private readonly o: StreamHubOptions) {}

  /** Streams open now. */
  get count(): number {
    return this.open;
  }

  /** Starts a stream on `res`; false when the stream cap is reached (the caller answers 503). */
  subscribe(host: InventoryHost, events: boolean, res: ServerResponse): boolean {
    if (this.closed || this.open >= this.o.maxStreams) return false;
    const key = `${host.name.toLowerCase()}\u0000${events}`;
    let channel = this.channels.get(key);
    if (!channel) {
      const created = new Channel(this.o, host, events, () => {
        if (this.channels.get(key) === created) this.channels.delete(key);
      });
      channel = created;
      this.channels.set(key, channel);
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    const s: Subscriber = { res, lastWrite: Date.now(), keepAlive: undefined as unknown as NodeJS.Timeout };
    const ch = channel;
    s.keepAlive = setInterval(() => {
      if (Date.now() - s.lastWrite >= this.o.keepAliveMs - 50) ch.write(s, ': keep-alive\n\n');
    }, this.o.keepAliveMs);
    s.keepAlive.unref();
    this.open++;
    res.once('close', () => {
      this.open--;
      ch.remove(s);
    });
    ch.add(s);
    return true;
  }

  /** Ends every stream (the daemon stops): each gets its final chunk, no stream is cut. */
  closeAll(): void {
    this.closed = true;
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}
