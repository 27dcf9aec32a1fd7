// One argument list -> the WinRS command line that cmd.exe and then LabStation.exe's parser (AutoHotkey v2 on the
// UCRT argv rules) turn back into the same list, or a refusal naming the argument and the character that cannot
// pass. The strict profile of reference/winrm/ARGV.md §3.1: every argument inside one pair of quotes, its trailing
// backslashes doubled; `"`, `%`, `!` and characters XML or cmd.exe cannot carry are refused, never escaped.
import { UsageError } from './errors.js';

/** The longest line cmd.exe accepts (in UTF-16 code units). */
export const CMD_LINE_LIMIT = 8191;
/** What labops sends at most: room below the limit for whatever winrshost puts in front (ARGV.md §3.1 step 6). */
export const CMD_LINE_BUDGET = 8000;

/** The two SOAP elements of a WinRS Command: the program, and all arguments in one element (pywinrm's shape). */
export interface WinrsCommandLine {
  command: string;
  /** '' when there are no arguments (no Arguments element is sent) */
  arguments: string;
}

/** An executable path or argument list that cannot pass exactly (a usage error: nothing was sent). */
export class UnpassableArgument extends UsageError {
  constructor(
    message: string,
    /** 1-based argument number; 0 for the executable path */
    readonly argument: number,
    readonly character?: string,
  ) {
    super(message, { context: { argument, ...(character === undefined ? {} : { character }) } });
  }
}

// AutoHotkey's compiled-script runtime consumes these when they lead the arguments (ARGV.md §2.8).
const AHK_SWITCHES = new Set(['/restart', '/force', '/script']);

const SEPARATOR = /[\u2028\u2029]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// every C0 control but TAB, DEL, C1, the separators, the noncharacters; and unpaired surrogates
const REFUSED = new RegExp(`["%!\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u2028\\u2029\\ufffe\\uffff]|${LONE_SURROGATE.source}`);

/** Why one character cannot reach LabStation.exe exactly (ARGV.md §2.1, §2.4, §2.5, §2.6, §2.9). */
function whyRefused(c: string): string {
  if (c === '"') return 'a quote ends cmd.exe\'s quoting and the argument parser\'s, so the rest of the line would be read as commands (LabStation turns " into \' in messages anyway: write \')';
  if (c === '%') return 'cmd.exe expands %NAME% on a WinRS command line, inside quotes too, and has no escape for it (write "percent")';
  if (c === '!') return 'cmd.exe expands !NAME! when delayed expansion is on, which a WinRS shell cannot rule out';
  if (c === '\n') return 'a line feed ends the command line in cmd.exe';
  if (c === '\r') return 'a carriage return becomes a line feed in the SOAP XML and ends the command line';
  if (c === '\u0000') return 'NUL cannot be carried in the SOAP XML';
  if (SEPARATOR.test(c)) return 'a Unicode line or paragraph separator is not sent on a command line';
  if (LONE_SURROGATE.test(c)) return 'an unpaired surrogate cannot be carried in the SOAP XML';
  if (c === '\ufffe' || c === '\uffff') return 'a noncharacter cannot be carried in the SOAP XML';
  if (c.charCodeAt(0) < 0x20) return 'a control character cannot be carried in the SOAP XML';
  return 'a control character is not sent on a command line';
}

function codePoint(c: string): string {
  return `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The character as an operator reads it in a message: printable ones quoted, the rest by name and code. */
function showChar(c: string): string {
  if (c === ' ') return 'a space (U+0020)';
  if (c === '\n') return 'a line feed (U+000A)';
  if (c === '\r') return 'a carriage return (U+000D)';
  if (c === '\u0000') return 'NUL (U+0000)';
  // eslint-disable-next-line no-control-regex -- control characters are shown by code point
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff\ud800-\udfff]/.test(c)) return codePoint(c);
  return `'${c}' (${codePoint(c)})`;
}

/** An argument as it appears in a message: JSON-quoted (controls and lone surrogates escaped), shortened when long. */
function showArg(a: string): string {
  return JSON.stringify(a.length > 60 ? `${a.slice(0, 57)}…` : a);
}

/** Encodes one argument: a pair of quotes around it, the trailing backslashes doubled so the closing quote stays one. */
export function quoteArgument(arg: string): string {
  const trailing = /\\*$/.exec(arg)![0].length;
  return `"${arg}${'\\'.repeat(trailing)}"`;
}

/** Windows' MAX_PATH: the longest program path assumed when the real one is not known yet. */
const MAX_PATH = 260;

/**
 * The first reason an argument list cannot pass (naming the argument and the character), or undefined. The length
 * check assumes a program path of `exeLength` characters (MAX_PATH when the host is not known yet).
 */
export function argumentProblem(args: readonly string[], exeLength = MAX_PATH): UnpassableArgument | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = REFUSED.exec(a);
    if (m) {
      const c = m[0];
      return new UnpassableArgument(`argument ${i + 1} ${showArg(a)} contains ${showChar(c)} at position ${m.index + 1}: ${whyRefused(c)}; nothing was run`, i + 1, c);
    }
  }
  if (args.length && AHK_SWITCHES.has(args[0]!.toLowerCase())) {
    return new UnpassableArgument(`argument 1 ${showArg(args[0]!)} would be taken by LabStation.exe's AutoHotkey runtime as its own switch; nothing was run`, 1);
  }
  let length = exeLength;
  for (let i = 0; i < args.length; i++) {
    length += 1 + quoteArgument(args[i]!).length;
    if (length > CMD_LINE_BUDGET) {
      return new UnpassableArgument(
        `argument ${i + 1} ${showArg(args[i]!)} makes the command line ${length}${i + 1 < args.length ? '+' : ''} characters long: cmd.exe takes at most ${CMD_LINE_LIMIT} and labops sends at most ${CMD_LINE_BUDGET}; nothing was run`,
        i + 1,
      );
    }
  }
  return undefined;
}

// cmd.exe must find the program without quotes: a line starting with " loses its first and last quote (ARGV.md §2.3).
const SAFE_EXE = /^(?:[A-Za-z]:\\|\\\\)[A-Za-z0-9\\._~-]+$/;

/** Why an executable path cannot be the unquoted program of a WinRS command line, or undefined. */
export function executableProblem(exe: string): UnpassableArgument | undefined {
  if (SAFE_EXE.test(exe)) return undefined;
  const root = /^(?:[A-Za-z]:\\|\\\\)/.exec(exe)?.[0];
  const bad = root === undefined ? undefined : /[^A-Za-z0-9\\._~-]/.exec(exe.slice(root.length));
  const at = (bad?.index ?? 0) + (root?.length ?? 0);
  const what = bad ? `contains ${showChar(bad[0])} at position ${at + 1}` : 'is not an absolute path to a program (C:\\…\\LabStation.exe)';
  return new UnpassableArgument(
    `LabStation.exe path ${showArg(exe)} ${what}: the WinRS cmd shell starts it unquoted, so it may hold only letters, digits and \\ : . _ - ~ (an 8.3 short name such as C:\\PROGRA~1\\… avoids spaces); nothing was run`,
    0,
    bad?.[0],
  );
}

/**
 * The WinRS command line for `exe args…`: the path unquoted in Command, every argument quoted in one Arguments
 * element. Throws UnpassableArgument before anything is sent when the result would not be exactly `args` on the
 * station.
 */
export function winrsCommandLine(exe: string, args: readonly string[]): WinrsCommandLine {
  const problem = executableProblem(exe) ?? argumentProblem(args, exe.length);
  if (problem) throw problem;
  return { command: exe, arguments: args.map(quoteArgument).join(' ') };
}
