// A Server-Sent Events reader for tests: the raw frames (events and comment lines) of one response, as a
// browser's EventSource sees them, plus how the stream ended.
import { request, type IncomingMessage } from 'node:http';

export interface SseFrame {
  /** `event:` value, or undefined for a comment-only frame */
  event?: string;
  data?: string;
  comments: string[];
}

export interface SseStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** the body of a non-200 answer */
  body: string;
  frames: SseFrame[];
  /** 'end': the server finished the response; 'aborted': the connection was cut */
  ended?: 'end' | 'aborted';
  close(): void;
  waitFor(pred: (f: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
}

function parseFrame(text: string): SseFrame {
  const f: SseFrame = { comments: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) f.comments.push(line.slice(1).trim());
    else if (line.startsWith('event: ')) f.event = line.slice(7);
    else if (line.startsWith('data: ')) f.data = (f.data === undefined ? '' : `${f.data}\n`) + line.slice(6);
  }
  return f;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const s: SseStream = {
        status: res.statusCode!,
        headers: res.headers,
        body: '',
        frames: [],
        close: () => req.destroy(),
        waitFor: (pred, timeoutMs = 20_000) =>
          new Promise((ok, fail) => {
            const found = s.frames.find(pred);
            if (found) return ok(found);
            const t = setTimeout(() => fail(new Error(`no matching SSE frame within ${timeoutMs} ms (${s.frames.length} frames, ended: ${s.ended})`)), timeoutMs);
            const check = () => {
              const f = s.frames.find(pred);
              if (f) {
                clearTimeout(t);
                res.off('frame', check);
                ok(f);
              }
            };
            res.on('frame', check);
          }),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (s.status !== 200) return void (s.body += chunk);
        buf += chunk;
        let at: number;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          s.frames.push(parseFrame(buf.slice(0, at)));
          buf = buf.slice(at + 2);
          res.emit('frame');
        }
      });
      res.on('end', () => (s.ended ??= 'end'));
      res.on('close', () => (s.ended ??= res.complete ? 'end' : 'aborted'));
      res.on('error', () => (s.ended ??= 'aborted'));
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}
