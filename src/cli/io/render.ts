// Table rendering. On a terminal: a table with a header that fits the terminal's width (columns cut with … or
// dropped, least important first; --wide shows everything), colour when allowed. Piped: tab-separated lines
// without a header, full values, so `cut -f` and `awk` work. --format table|tsv picks either anywhere.
// Loaded only by actions, never by --help.
import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { IOStreams } from './iostreams.js';

export interface Column<T> {
  header: string;
  /** the value for both renderings */
  value: (row: T) => string;
  /** a richer value for the table (colour, relative times) */
  pretty?: (row: T, c: ChalkInstance) => string;
  /**
   * Free text (messages, details, titles) that may be cut with … on a narrow terminal. Other columns keep their
   * width and are dropped instead, the least important first.
   */
  flex?: boolean;
  /**
   * Lower is more important. Default: the first column (never dropped), then free text (the message is why one
   * reads the row), then the others in their order.
   */
  priority?: number;
}

export function colors(io: IOStreams): ChalkInstance {
  return new Chalk({ level: io.colorEnabled ? 1 : 0 });
}

export function stderrColors(io: IOStreams): ChalkInstance {
  return new Chalk({ level: io.colorEnabledStderr ? 1 : 0 });
}

const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex
const GAP = 2;
/** a cut column keeps at least this much (or its header, when longer) */
const MIN_FLEX = 12;

/** Display width of a cell: without colour codes, in code points. */
export function textWidth(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/** A multi-line value shows its first line, marked as cut. */
function firstLine(s: string): string {
  const nl = s.search(/\r?\n/);
  return nl < 0 ? s : `${s.slice(0, nl)} …`;
}

export interface Layout {
  /** indexes of the columns shown, in order */
  shown: number[];
  /** width of each shown column */
  widths: number[];
}

/**
 * Which columns fit in `width` and how wide each is: flex columns are cut down first (to MIN_FLEX or their header),
 * then the least important columns dropped (never the first) and the room they leave given back to the cut free
 * text, then the widest remaining columns cut. `undefined`
 * width (unknown terminal, --wide) keeps everything at its natural width.
 */
export function fitColumns(headers: readonly string[], natural: readonly number[], o: { width?: number; flex: readonly boolean[]; priority: readonly number[] }): Layout {
  let shown = headers.map((_, i) => i);
  const widths = natural.map((n, i) => Math.max(n, headers[i]!.length));
  const total = () => shown.reduce((a, i) => a + widths[i]!, 0) + GAP * Math.max(0, shown.length - 1);
  const width = o.width;
  if (width === undefined) return { shown, widths: shown.map((i) => widths[i]!) };
  const floor = (i: number) => Math.max(headers[i]!.length, Math.min(widths[i]!, MIN_FLEX));
  // 1. cut free-text columns, the widest first
  for (const i of [...shown].filter((x) => o.flex[x]).sort((a, b) => widths[b]! - widths[a]!)) {
    const over = total() - width;
    if (over <= 0) break;
    widths[i] = Math.max(floor(i), widths[i]! - over);
  }
  // 2. drop the least important columns (never the first)
  const byImportance = [...shown].slice(1).sort((a, b) => o.priority[b]! - o.priority[a]! || b - a);
  for (const i of byImportance) {
    if (total() <= width) break;
    shown = shown.filter((x) => x !== i);
  }
  // 3. room freed by dropped columns goes back to the free text that was cut
  for (const i of shown.filter((x) => o.flex[x])) {
    const slack = width - total();
    if (slack <= 0) break;
    widths[i] = Math.min(Math.max(natural[i]!, headers[i]!.length), widths[i]! + slack);
  }
  // 4. what is left must fit: cut the widest columns down to their headers
  while (total() > width) {
    const widest = [...shown].sort((a, b) => widths[b]! - widths[a]!)[0]!;
    const min = Math.max(1, headers[widest]!.length);
    if (widths[widest]! <= min) break;
    widths[widest] = Math.max(min, widths[widest]! - (total() - width));
  }
  return { shown, widths: shown.map((i) => widths[i]!) };
}

export function renderTable<T>(io: IOStreams, columns: Column<T>[], rows: T[]): void {
  if (io.tableFormat === 'tsv') {
    for (const row of rows) io.out(columns.map((c) => c.value(row).replace(/[\t\n]/g, ' ')).join('\t'));
    return;
  }
  const c = colors(io);
  const cells = rows.map((row) => columns.map((col) => firstLine(col.pretty ? col.pretty(row, c) : col.value(row))));
  const natural = columns.map((col, i) => Math.max(textWidth(col.header), ...cells.map((r) => textWidth(r[i]!))));
  const layout = fitColumns(
    columns.map((x) => x.header),
    natural,
    { width: io.wide ? undefined : io.terminalWidth, flex: columns.map((x) => Boolean(x.flex)), priority: columns.map((x, i) => x.priority ?? (i === 0 ? 0 : x.flex ? 1 : i + 1)) },
  );
  const table = new Table({
    head: io.noHeaders ? [] : layout.shown.map((i) => c.bold(columns[i]!.header)),
    colWidths: layout.widths,
    truncate: '…',
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 0 },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ' '.repeat(GAP) },
  });
  for (const r of cells) table.push(layout.shown.map((i) => r[i]!));
  if (rows.length === 0 && io.noHeaders) return;
  io.out(
    table
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n'),
  );
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
