// powershell.exe (Windows PowerShell 5.1) on a simulated station: its own parameter parsing (CommandLineToArgvW, names
// by unambiguous prefix), -EncodedCommand / -Command, and the scripts the simulator can run: labops' station-file
// read and the ops-worker's Get-Content. Any other script gets a "not supported by the simulator" error; nothing
// here pretends that the station lacks PowerShell.
import { decodePowerShell } from '../../core/winrm/powershell.js';
import { xmlEscape } from '../../core/winrm/soap.js';
import { commandLineToArgvW } from './cmdline.js';
import { parseGetContent, parseReadFiles, readFilesLimit, type CommandHandler, type CommandResult } from './handler.js';
import { parseFileScript, type FileOp } from './file-scripts.js';

export const POWERSHELL_EXE = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';

// powershell.exe /? (5.1); -e, -ec, -c, -ep are the documented short forms
const PARAMETERS = ['psconsolefile', 'version', 'nologo', 'noexit', 'sta', 'mta', 'noprofile', 'noninteractive', 'inputformat', 'outputformat', 'windowstyle', 'encodedcommand', 'configurationname', 'file', 'executionpolicy', 'command'];
const TAKES_VALUE = new Set(['psconsolefile', 'version', 'inputformat', 'outputformat', 'windowstyle', 'configurationname', 'executionpolicy']);
const SHORT: Record<string, string> = { e: 'encodedcommand', ec: 'encodedcommand', c: 'command', ep: 'executionpolicy' };

function parameter(arg: string): string | undefined {
  if (!/^[-/]/.test(arg)) return undefined;
  const name = arg.slice(1).toLowerCase();
  if (SHORT[name]) return SHORT[name];
  const matches = PARAMETERS.filter((p) => p.startsWith(name));
  return name && matches.length === 1 ? matches[0] : undefined;
}

export type PowerShellInvocation = { script: string } | { unsupported: string } | { error: string };

/** What `powershell.exe <args>` would run: the script, or why the simulator cannot run it. */
export function parsePowerShellArgs(programLine: string): PowerShellInvocation {
  const args = commandLineToArgvW(programLine).slice(1);
  for (let i = 0; i < args.length; i++) {
    const p = parameter(args[i]!);
    if (p === 'encodedcommand') {
      const b64 = args[i + 1] ?? '';
      if (!b64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4) return { error: 'Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.' };
      return { script: decodePowerShell(b64) };
    }
    if (p === 'command') {
      const rest = args.slice(i + 1);
      return rest.length === 1 && rest[0] === '-' ? { unsupported: 'a script read from stdin (-Command -)' } : { script: rest.join(' ') };
    }
    if (p === 'file') return { unsupported: 'running a script file (-File)' };
    if (p === undefined) return { script: args.slice(i).join(' ') }; // the first other argument starts the command
    if (TAKES_VALUE.has(p)) i++;
  }
  return { unsupported: 'an interactive session (no -Command or -EncodedCommand)' };
}

function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Runs a script the simulator knows; `codepage` is the shell's (PowerShell writes text to a pipe in it). */
export async function runPowerShellScript(script: string, handler: CommandHandler, codepage: number): Promise<CommandResult> {
  const readPaths = parseReadFiles(script);
  if (readPaths) {
    const max = readFilesLimit(script);
    const lines = await Promise.all(
      readPaths.map(async (p) => {
        try {
          const data = await handler.readFile?.(p);
          if (data && data.length > max) return `>${data.length}`;
          return data ? `+${data.toString('base64')}` : '-';
        } catch (e) {
          return `!${Buffer.from((e as Error).message).toString('base64')}`;
        }
      }),
    );
    return { exitCode: 0, stdout: text(lines.map((l) => `${l}\n`).join('')), stderr: Buffer.alloc(0) };
  }
  const textPath = parseGetContent(script);
  if (textPath !== undefined) {
    const data = await handler.readFile?.(textPath);
    if (!data) return { exitCode: 1, stdout: Buffer.alloc(0), stderr: clixmlError(`Could not find file '${textPath}'.`) };
    return { exitCode: 0, stdout: encodeForCodepage(`${stripBom(data).toString('utf8')}\r\n`, codepage), stderr: Buffer.alloc(0) };
  }
  const fileOps = parseFileScript(script);
  if (fileOps) return runFileOps(fileOps, handler);
  const first = script.trim().split(/\r?\n/)[0] ?? '';
  return {
    exitCode: 1,
    stdout: Buffer.alloc(0),
    stderr: text(
      `labops simulator: this PowerShell script is not supported by the simulator (it runs labops' station-file read and ` +
        `Get-Content -LiteralPath '<path>' -Raw -Encoding UTF8): ${first.length > 100 ? `${first.slice(0, 97)}...` : first}\r\n`,
    ),
  };
}

/** Set-Content writes UTF-8 with a BOM and a CRLF after the value (Windows PowerShell 5.1); stops at the first failure. */
async function runFileOps(ops: FileOp[], handler: CommandHandler): Promise<CommandResult> {
  for (const op of ops) {
    const ok =
      op.op === 'write'
        ? await handler.writeFile?.(op.path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${op.value}\r\n`, 'utf8')]))
        : await handler.deleteFile?.(op.path).then(() => true);
    if (!ok) return { exitCode: 1, stdout: Buffer.alloc(0), stderr: clixmlError(`Could not find a part of the path '${op.path}'.`) };
  }
  return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
}

function stripBom(b: Buffer): Buffer {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
}

/** PowerShell writes text to a pipe in the shell's code page: non-ASCII survives only under 65001. */
function encodeForCodepage(s: string, codepage: number): Buffer {
  return codepage === 65001 ? Buffer.from(s, 'utf8') : Buffer.from([...s].map((c) => (c.charCodeAt(0) < 0x80 ? c : '?')).join(''), 'latin1');
}

/** An error as powershell.exe -EncodedCommand writes it to a piped stderr. */
export function clixmlError(message: string): Buffer {
  const esc = xmlEscape(message).replace(/\r?\n/g, '_x000D__x000A_');
  return text(`#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">${esc}_x000D__x000A_</S></Objs>`);
}
