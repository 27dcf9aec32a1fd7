// What a simulated station runs behind its WinRM service: LabStation.exe (the CommandHandler; the LabStation
// state machine implements it elsewhere, TrivialHandler is for protocol tests) and the files PowerShell reads.
// windows.ts decides, as cmd.exe would, which program a command line starts and with which argv.
import { READ_FILES_BODY, parsePsLiteral } from '../../core/winrm/powershell.js';

/** One program the simulated Windows started, as the station saw it. */
export interface CommandRequest {
  /** the WinRS line: Command + ' ' + Arguments */
  commandLine: string;
  /** the program's full path, e.g. C:\LabStation\LabStation.exe */
  command: string;
  /** the command line cmd.exe handed to CreateProcess (quotes kept; carets and redirections gone) */
  programLine: string;
  /** the program's argv after its own splitter (argv[0] included) */
  argv: string[];
  /** the arguments the program acts on: A_Args for LabStation.exe, argv[1..] otherwise */
  args: string[];
  /** cmd: started by cmd.exe; powershell: a script run by powershell.exe */
  via: 'cmd' | 'powershell';
  /** the decoded script when the program was powershell.exe */
  powershell?: string;
  /** the authenticated user */
  user: string;
}

export interface CommandResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface CommandHandler {
  /** where LabStation.exe is installed on this station; default C:\LabStation\LabStation.exe */
  readonly exe?: string;
  /** LabStation.exe was started; `req.args` is its A_Args */
  run(req: CommandRequest, ctx: { signal: AbortSignal }): Promise<CommandResult>;
  /** file contents for PowerShell reads and `<` redirection; undefined = no such file, a rejection = that file's read error */
  readFile?(path: string): Promise<Buffer | undefined>;
  /** `>`/`>>` redirection; false when the path cannot be written (no such folder) */
  writeFile?(path: string, data: Buffer): Promise<boolean>;
  /** powershell.exe is starting: a real station spends 0.3–1.5 s here */
  powershellStartup?(signal: AbortSignal): Promise<void>;
  /** Remove-Item after Test-Path: nothing happens when the file is absent */
  deleteFile?(path: string): Promise<void>;
}

export const DEFAULT_LABSTATION_EXE = 'C:\\LabStation\\LabStation.exe';

/** Echoes the A_Args it got as JSON; `sleep <ms>` waits (or hangs with `hang`), `exit <n>` exits with n. */
export class TrivialHandler implements CommandHandler {
  readonly files = new Map<string, Buffer>();
  async run(req: CommandRequest, ctx: { signal: AbortSignal }): Promise<CommandResult> {
    const [verb, arg] = req.args;
    if (verb === 'hang') await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    if (verb === 'sleep') await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Number(arg));
      ctx.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    if (verb === 'exit') return { exitCode: Number(arg), stdout: Buffer.from(`exiting ${arg}\n`), stderr: Buffer.from('some error text\n') };
    if (verb === 'unicode') return { exitCode: 0, stdout: Buffer.from('Grüße – 日本語 ✓\n'), stderr: Buffer.alloc(0) };
    if (verb === 'big') return { exitCode: 0, stdout: Buffer.from('x' + 'é'.repeat(Number(arg))), stderr: Buffer.alloc(0) };
    return { exitCode: 0, stdout: Buffer.from(JSON.stringify({ command: req.command, args: req.args }) + '\n'), stderr: Buffer.alloc(0) };
  }
  async readFile(path: string): Promise<Buffer | undefined> {
    return this.files.get(path.toLowerCase());
  }
  async writeFile(path: string, data: Buffer): Promise<boolean> {
    if (!/^c:\\users\\[^\\]+\\|^c:\\labstation\\/i.test(path)) return false;
    this.files.set(path.toLowerCase(), data);
    return true;
  }
}

/** labops' byte-exact read of one or more files (see readFilesScript); the paths, or undefined for another script. */
export function parseReadFiles(script: string): string[] | undefined {
  const s = script.replace(/\r\n/g, '\n');
  const head = '\n$paths = @(';
  const at = s.indexOf(head);
  if (at < 0) return undefined;
  const paths = parsePsLiteralList(s, at + head.length);
  return paths && s.slice(paths.end) === `)\n${READ_FILES_BODY}` ? paths.values : undefined;
}

/** The size limit ($max) of labops' read: a larger file is answered with its size, unread, as PowerShell would. */
export function readFilesLimit(script: string): number {
  const m = /\n\$max = (\d+)\r?\n\$paths = @\(/.exec(script);
  return m ? Number(m[1]) : Infinity;
}

/** `'a', 'b'` up to the closing parenthesis (not consumed): the values and where the list ended. */
function parsePsLiteralList(s: string, at: number): { values: string[]; end: number } | undefined {
  let p = at;
  const values: string[] = [];
  while (s[p] !== ')') {
    if (values.length) {
      if (!s.startsWith(', ', p)) return undefined;
      p += 2;
    }
    const lit = parsePsLiteral(s, p);
    if (!lit) return undefined;
    values.push(lit.value);
    p = lit.end;
  }
  return { values, end: p };
}

/** The ops-worker's read: Get-Content -LiteralPath '<p>' -Raw -Encoding UTF8 (the path may be unescaped upstream). */
export function parseGetContent(script: string): string | undefined {
  const m = /^\s*Get-Content\s+-LiteralPath\s+'(.*)'\s+-Raw\s+-Encoding\s+UTF8\s*$/is.exec(script);
  return m ? m[1]!.replace(/''/g, "'") : undefined;
}
