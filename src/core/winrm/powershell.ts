// Building PowerShell that cannot be split or injected: -EncodedCommand (UTF-16LE base64) so cmd.exe never sees
// the script, and single-quoted literals (' doubled) so PowerShell never interprets a path. Only the station-file
// reads use PowerShell; LabStation.exe commands go through the cmd shell (domain/winrs-command-line.ts).

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

/** The size limit of readFilesScript when the caller names none: far above any station file, below the reply limits. */
export const READ_FILES_MAX = 16 * 1024 * 1024;

/**
 * Reads several files in one command (one shell, one powershell.exe on the station instead of one per file). Prints
 * a line per path: `+<base64 of the bytes>` (no code page can alter them), `-` when the file or its folder does not
 * exist, `><size>` when it is larger than `maxBytes` (its size is looked at before anything is read), or
 * `!<base64 of the UTF-8 error message>` for any other failure, so one unreadable file fails only itself.
 */
export function readFilesScript(paths: readonly string[], maxBytes = READ_FILES_MAX): string {
  return PRELUDE + `$max = ${Math.max(0, Math.floor(maxBytes))}\n$paths = @(${paths.map(psLiteral).join(', ')})\n` + READ_FILES_BODY;
}

/** The part of readFilesScript after the path list (the simulator matches it exactly). */
export const READ_FILES_BODY = [
  'foreach ($path in $paths) {',
  '  try {',
  '    $size = (New-Object IO.FileInfo -ArgumentList $path).Length',
  "    if ($size -gt $max) { [Console]::Out.Write('>' + $size) }",
  "    else { [Console]::Out.Write('+' + [Convert]::ToBase64String([IO.File]::ReadAllBytes($path))) }",
  '  }',
  '  catch {',
  '    $e = $_.Exception; if ($e.InnerException) { $e = $e.InnerException }',
  "    if ($e -is [IO.FileNotFoundException] -or $e -is [IO.DirectoryNotFoundException]) { [Console]::Out.Write('-') }",
  "    else { [Console]::Out.Write('!' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($e.Message))) }",
  '  }',
  '  [Console]::Out.Write("`n")',
  '}',
  '',
].join('\n');

/** One line of readFilesScript's output: the bytes, a missing file, one too large to read, or the station's error message. */
export type ReadFileOutcome = { bytes: Buffer } | { missing: true } | { tooLarge: number } | { error: string };

/** Parses readFilesScript's stdout; undefined when it is not that shape (one line per path). */
export function parseReadFilesOutput(stdout: string, count: number): ReadFileOutcome[] | undefined {
  const lines = stdout.replace(/\r/g, '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length !== count) return undefined;
  const out: ReadFileOutcome[] = [];
  for (const l of lines) {
    const body = l.slice(1);
    if (l === '-') out.push({ missing: true });
    else if (/^>\d{1,15}$/.test(l)) out.push({ tooLarge: Number(body) });
    else if ((l[0] === '+' || l[0] === '!') && /^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
      const b = Buffer.from(body, 'base64');
      out.push(l[0] === '+' ? { bytes: b } : { error: b.toString('utf8') });
    } else return undefined;
  }
  return out;
}

/** powershell.exe arguments for an encoded script. */
export function powershellArgs(script: string): string {
  return `-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ${encodePowerShell(script)}`;
}
