// What the simulated WinRM server hands to the station: one recognised command. The LabStation.exe state machine
// (built elsewhere) implements CommandHandler; TrivialHandler is for protocol tests.
import { parsePsLiteral, READ_FILES_BODY } from '../../core/winrm/powershell.js';

export interface CommandRequest {
  /** the line WinRS received: Command + ' ' + Arguments */
  commandLine: string;
  /** argv[0]: the program as the station sees it, e.g. C:\LabStation\LabStation.exe */
  command: string;
  /** argv[1..], exactly as the program would receive them */
  args: string[];
  /** cmd: plain WinRS command (pywinrm run_cmd); powershell-wrapper: labops' call-operator wrapper; powershell: another script */
  via: 'cmd' | 'powershell-wrapper' | 'powershell';
  /** the decoded script when the command was powershell -EncodedCommand */
  powershell?: string;
  /** what cmd.exe would have run after an unquoted & | < > (the upstream injection) */
  injected?: string;
  /** the authenticated user */
  user: string;
}

export interface CommandResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface CommandHandler {
  run(req: CommandRequest, ctx: { signal: AbortSignal }): Promise<CommandResult>;
  /** file contents for PowerShell reads (ReadAllBytes / Get-Content); undefined = no such file, a rejection = that file's read error */
  readFile?(path: string): Promise<Buffer | undefined>;
  /** Set-Content: the bytes PowerShell writes; false = the path cannot be written */
  writeFile?(path: string, data: Buffer): Promise<boolean>;
  /** Remove-Item after Test-Path: nothing happens when the file is absent */
  deleteFile?(path: string): Promise<void>;
}

/** Echoes the argv it got as JSON; `sleep <ms>` waits (or hangs with `hang`), `exit <n>` exits with n. */
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
}

/** Parses labops' call-operator wrapper (see execWrapperScript); undefined when the script is something else. */
export function parseExecWrapper(script: string): { exe: string; args: string[] } | undefined {
  const s = script.replace(/\r\n/g, '\n');
  const exeAt = s.indexOf('\n$exe = ');
  if (exeAt < 0) return undefined;
  const exe = parsePsLiteral(s, exeAt + '\n$exe = '.length);
  if (!exe) return undefined;
  const argvHead = '\n$argv = @(';
  if (!s.startsWith(argvHead, exe.end)) return undefined;
  const args = parsePsLiteralList(s, exe.end + argvHead.length);
  if (!args || !s.startsWith(')\n& $exe @argv\n', args.end)) return undefined;
  return { exe: exe.value, args: args.values };
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
