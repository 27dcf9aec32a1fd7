// Table rendering: cli-table3 with headers and colour on a TTY; tab-separated lines without a header
// when piped, so `cut -f` and `awk` work. Loaded only by actions, never by --help.
import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { IOStreams } from './iostreams.js';

export interface Column<T> {
  header: string;
  /** the value for both renderings */
  value: (row: T) => string;
  /** a richer value for the TTY rendering (colour, relative times) */
  pretty?: (row: T, c: ChalkInstance) => string;
}

export function colors(io: IOStreams): ChalkInstance {
  return new Chalk({ level: io.colorEnabled ? 1 : 0 });
}

export function stderrColors(io: IOStreams): ChalkInstance {
  return new Chalk({ level: io.colorEnabledStderr ? 1 : 0 });
}

export function renderTable<T>(io: IOStreams, columns: Column<T>[], rows: T[]): void {
  if (!io.stdoutIsTTY) {
    for (const row of rows) io.out(columns.map((c) => c.value(row).replace(/[\t\n]/g, ' ')).join('\t'));
    return;
  }
  const c = colors(io);
  const table = new Table({
    head: columns.map((col) => c.bold(col.header)),
    style: { head: [], border: [], compact: true },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
  });
  for (const row of rows) table.push(columns.map((col) => (col.pretty ? col.pretty(row, c) : col.value(row))));
  io.out(table.toString().split('\n').map((l) => l.replace(/^ /, '').trimEnd()).join('\n'));
}

/** `12s ago` on a TTY; callers print ISO-8601 when piped. */
export function relativeTime(then: Date, now: Date): string {
  const s = Math.round((now.getTime() - then.getTime()) / 1000);
  if (s < 0) return 'in the future';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
