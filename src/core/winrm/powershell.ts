// Building PowerShell that cannot be split or injected: -EncodedCommand (UTF-16LE base64) so cmd.exe never sees
// the script, and single-quoted literals (' doubled) so PowerShell never interprets an argument.

/** Longest command line cmd.exe accepts. */
export const CMD_MAX = 8191;

export function encodePowerShell(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export function decodePowerShell(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf16le');
}

/** A PowerShell single-quoted literal: nothing inside is interpreted; ' is written ''. */
export function psLiteral(s: string): string {
  // PowerShell also treats the typographic quotes U+2018/U+2019/U+201A/U+201B as single quotes
  return `'${s.replace(/['\u2018\u2019\u201a\u201b]/g, (c) => c + c)}'`;
}

/** Parses one literal written by psLiteral (for the simulator); returns the value and where it ended. */
export function parsePsLiteral(src: string, at: number): { value: string; end: number } | undefined {
  const q = /['\u2018\u2019\u201a\u201b]/;
  if (!q.test(src[at] ?? '')) return undefined;
  let i = at + 1;
  let out = '';
  while (i < src.length) {
    const c = src[i]!;
    if (q.test(c)) {
      if (q.test(src[i + 1] ?? '')) {
        out += c;
        i += 2;
        continue;
      }
      return { value: out, end: i + 1 };
    }
    out += c;
    i++;
  }
  return undefined;
}

const PRELUDE = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n[Console]::OutputEncoding = [Text.Encoding]::UTF8\n";

/**
 * The call-operator wrapper (labgateway NOTES §5.2): exe and every argument are single-quoted literals, invoked
 * with `& $exe @argv`, and the native exit code is passed through.
 */
export function execWrapperScript(exe: string, args: string[]): string {
  return (
    PRELUDE +
    `$exe = ${psLiteral(exe)}\n` +
    `$argv = @(${args.map(psLiteral).join(', ')})\n` +
    `& $exe @argv\n` +
    `if ($null -eq $LASTEXITCODE) { exit 0 } else { exit $LASTEXITCODE }\n`
  );
}

/** Reads a file's bytes and prints them as base64, so no code page can mangle them. */
export function readFileScript(path: string): string {
  return PRELUDE + `$path = ${psLiteral(path)}\n[Console]::Out.Write([Convert]::ToBase64String([IO.File]::ReadAllBytes($path)))\n`;
}

/** powershell.exe arguments for an encoded script. */
export function powershellArgs(script: string): string {
  return `-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ${encodePowerShell(script)}`;
}
