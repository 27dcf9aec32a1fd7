// A live view: a listing redrawn in place on the terminal's alternate screen every interval, the rows that
// changed since the last refresh highlighted, until q or Ctrl-C (kubectl's -w, `watch`, gh's run watch).
import type { IOStreams } from './iostreams.js';
import { UsageError } from '../../domain/errors.js';
import { textWidth } from './render.js';

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[?25l';
const ALT_SCREEN_OFF = '\x1b[?25h\x1b[?1049l';
const HOME_CLEAR = '\x1b[H\x1b[2J';
const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

export interface WatchOptions {
  intervalMs: number;
  /** what is being watched, e.g. `labops heartbeat show` */
  title: string;
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The rows of a rendered table that differ from the last frame's row of the same first column, highlighted. */
export function highlightChanges(lines: readonly string[], previous: ReadonlyMap<string, string>): { lines: string[]; rows: Map<string, string> } {
  const rows = new Map<string, string>();
  const seen = new Map<string, number>();
  const out = lines.map((line, i) => {
    const plain = line.replace(ANSI, '');
    const first = plain.split(/\s{2,}/)[0] ?? '';
    if (i === 0 || !first) return line;
    // rows are known by their first cell, the nth row of a repeated first cell (labs of one server) by n
    const n = (seen.get(first) ?? 0) + 1;
    seen.set(first, n);
    const key = `${first}#${n}`;
    rows.set(key, plain);
    const before = previous.get(key);
    return previous.size > 0 && before !== plain ? `\x1b[7m${plain}\x1b[27m` : line;
  });
  return { lines: out, rows };
}

export async function watchTable(io: IOStreams, signal: AbortSignal, o: WatchOptions, draw: (off: IOStreams) => Promise<void>): Promise<void> {
  if (!io.stdoutIsTTY || !io.stdinIsTTY) throw new UsageError('--watch needs a terminal', { suggestion: 'in a script or under watch(1), run the command in a loop with --format tsv (or --format table)' });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const stdin = io.stdin as NodeJS.ReadStream;
  const onKey = (b: Buffer) => {
    if (b.includes(0x71) || b.includes(0x03)) stop.abort(); // q, Ctrl-C (raw mode delivers it as a byte)
  };
  stdin.setRawMode?.(true);
  stdin.on('data', onKey);
  stdin.resume();
  io.stdout.write(ALT_SCREEN_ON);
  let previous = new Map<string, string>();
  try {
    while (!stop.signal.aborted) {
      const off = io.offscreen();
      let body: string[];
      try {
        await draw(off);
        const h = highlightChanges(off.outText().replace(/\n$/, '').split('\n'), previous);
        body = h.lines;
        previous = h.rows;
      } catch (e) {
        body = [`error: ${(e as Error).message}`];
      }
      const left = `Every ${o.intervalMs / 1000}s: ${o.title}`;
      const right = new Date(o.now()).toISOString().slice(11, 19);
      const width = io.terminalWidth ?? 80;
      const pad = Math.max(1, width - textWidth(left) - right.length);
      io.stdout.write(`${HOME_CLEAR}${left}${' '.repeat(pad)}${right}\n\n${body.join('\n')}\n\n(q to quit)`);
      await o.sleep(o.intervalMs, stop.signal);
    }
  } finally {
    io.stdout.write(ALT_SCREEN_OFF);
    stdin.off('data', onKey);
    stdin.setRawMode?.(false);
    stdin.pause();
    signal.removeEventListener('abort', onAbort);
  }
}
