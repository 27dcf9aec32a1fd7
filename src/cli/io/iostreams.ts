// IOStreams owns every terminal decision: TTY detection, colour, prompting, progress. Tests build one
// with IOStreams.test() and read the buffers.
import { isatty } from 'node:tty';
import { PassThrough, type Writable, type Readable } from 'node:stream';

export interface IOOptions {
  /** a function so that process.stdin (costly to set up) is only created when something reads it */
  stdin: () => Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

const stdinOfProcess = () => process.stdin;

export class IOStreams {
  private readonly stdinFactory: IOOptions['stdin'];
  readonly stdout: IOOptions['stdout'];
  readonly stderr: IOOptions['stderr'];
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  json = false;
  quiet = false;
  verbose = false;
  noInput = false;
  noColor = false;
  /** --format: table or tsv regardless of the terminal (json is `json`) */
  format: 'table' | 'tsv' | undefined;
  /** --no-headers: a table without its header row */
  noHeaders = false;
  /** --wide: a table at its natural width, nothing cut or dropped */
  wide = false;
  private columnsOverride: number | undefined;
  private readonly env: NodeJS.ProcessEnv;

  constructor(o: IOOptions) {
    this.stdinFactory = o.stdin;
    this.stdout = o.stdout;
    this.stderr = o.stderr;
    this.env = o.env;
    this.stdinIsTTY = o.stdin === stdinOfProcess ? isatty(0) : Boolean(o.stdin().isTTY);
    this.stdoutIsTTY = Boolean(o.stdout.isTTY);
    this.stderrIsTTY = Boolean(o.stderr.isTTY);
    this.format = undefined;
  }

  /** Columns of the terminal on stdout, read live (a resized terminal re-fits the next table); tests set it. */
  get columns(): number | undefined {
    return this.columnsOverride ?? this.stdout.columns;
  }

  set columns(n: number | undefined) {
    this.columnsOverride = n;
  }

  get stdin(): Readable & { isTTY?: boolean } {
    return this.stdinFactory();
  }

  static system(env: NodeJS.ProcessEnv = process.env): IOStreams {
    return new IOStreams({ stdin: stdinOfProcess, stdout: process.stdout, stderr: process.stderr, env });
  }

  /** In-memory streams for tests; `tty` makes all three look like a terminal. */
  static test(opts: { tty?: boolean; columns?: number; env?: NodeJS.ProcessEnv; stdin?: string } = {}): IOStreams & { outText(): string; errText(): string } {
    const stdin = new PassThrough();
    if (opts.stdin !== undefined) stdin.end(opts.stdin);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (c: Buffer) => out.push(c));
    stderr.on('data', (c: Buffer) => err.push(c));
    const io = new IOStreams({ stdin: () => stdin, stdout, stderr, env: opts.env ?? {} });
    io.stdinIsTTY = io.stdoutIsTTY = io.stderrIsTTY = Boolean(opts.tty);
    io.columns = opts.tty ? (opts.columns ?? 100) : undefined;
    return Object.assign(io, {
      outText: () => Buffer.concat(out).toString('utf8'),
      errText: () => Buffer.concat(err).toString('utf8'),
    });
  }

  /**
   * An off-screen copy of these streams: the same terminal, width, colour and table options, stdout into a buffer.
   * A live view renders into it, then draws the whole frame at once.
   */
  offscreen(): IOStreams & { outText(): string } {
    const out: Buffer[] = [];
    const stdout = new PassThrough();
    stdout.on('data', (c: Buffer) => out.push(c));
    const io = new IOStreams({ stdin: this.stdinFactory, stdout, stderr: this.stderr, env: this.env });
    Object.assign(io, { stdinIsTTY: this.stdinIsTTY, stdoutIsTTY: this.stdoutIsTTY, stderrIsTTY: this.stderrIsTTY, quiet: true, noColor: this.noColor, format: this.format, noHeaders: this.noHeaders, wide: this.wide });
    io.columns = this.columns;
    return Object.assign(io, { outText: () => Buffer.concat(out).toString('utf8') });
  }

  /** Colour on stdout: a TTY, no NO_COLOR, no --no-color, not --json. */
  get colorEnabled(): boolean {
    return this.stdoutIsTTY && !this.noColor && !this.json && this.env.NO_COLOR === undefined && this.env.TERM !== 'dumb';
  }

  get colorEnabledStderr(): boolean {
    return this.stderrIsTTY && !this.noColor && this.env.NO_COLOR === undefined && this.env.TERM !== 'dumb';
  }

  /** Prompts need a person: stdin and stdout TTYs, no --no-input, not CI. */
  canPrompt(): boolean {
    return !this.noInput && this.stdinIsTTY && this.stdoutIsTTY && !this.env.CI;
  }

  /** The terminal's width, when stdout is one that reports it (0 columns: `script` in cron, `ssh -tt`, CI ptys). */
  get terminalWidth(): number | undefined {
    return this.stdoutIsTTY && this.columns !== undefined && this.columns > 0 ? this.columns : undefined;
  }

  /** How tables come out: --format, else a table on a terminal and tab-separated lines when piped. */
  get tableFormat(): 'table' | 'tsv' {
    return this.format ?? (this.stdoutIsTTY ? 'table' : 'tsv');
  }

  /**
   * Spinners and live progress: both output streams are TTYs of a known width that can move the cursor
   * (TERM=dumb cannot), and neither --json nor --quiet. A spinner on a 0-column terminal redraws forever.
   */
  get progressEnabled(): boolean {
    return this.stdoutIsTTY && this.stderrIsTTY && this.terminalWidth !== undefined && this.env.TERM !== 'dumb' && !this.json && !this.quiet;
  }

  out(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Progress and information on stderr; silenced by --quiet and --json keeps stdout clean anyway. */
  info(text: string): void {
    if (!this.quiet) this.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.stderr.write(`warning: ${text}\n`);
  }

  error(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** The one JSON document of a --json run: pretty on a TTY, compact otherwise. */
  printJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, this.stdoutIsTTY ? 2 : undefined)}\n`);
  }
}
