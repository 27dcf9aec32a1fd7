// PowerShell where labops still needs it (reading station files): -EncodedCommand and single-quoted literals, the
// simulator's recognition of exactly those scripts, and the multi-file read output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePowerShell, encodePowerShell, parsePsLiteral, parseReadFilesOutput, powershellArgs, psLiteral, readFilesScript } from '../../src/core/winrm/powershell.js';
import { parseGetContent, parseReadFiles } from '../../src/sim/winrm/handler.js';
import { parsePowerShellArgs } from '../../src/sim/winrm/powershell.js';

const TRICKY = ['--reason=Remote order & calc', 'it\'s "quoted"', '$(Stop-Computer)', '`backtick` ; Remove-Item C:\\ -Recurse', '%PATH% ^& | > <', 'ünïcødé 日本語 ✓ 😀', 'line1\nline2', '', '\u2018curly\u2019 quotes', 'C:\\path with\\trailing\\'];

test('pywinrm conftest vector: Write-Error "Error" encodes as expected', () => {
  assert.equal(encodePowerShell('Write-Error "Error"'), 'VwByAGkAdABlAC0ARQByAHIAbwByACAAIgBFAHIAcgBvAHIAIgA=');
  assert.equal(decodePowerShell('VwByAGkAdABlAC0ARQByAHIAbwByACAAIgBFAHIAcgBvAHIAIgA='), 'Write-Error "Error"');
});

test('psLiteral: single quotes doubled (ASCII and typographic), nothing else touched', () => {
  assert.equal(psLiteral("it's"), "'it''s'");
  assert.equal(psLiteral('$(x) `y` "z"'), "'$(x) `y` \"z\"'");
  assert.equal(psLiteral('\u2019'), "'\u2019\u2019'");
  for (const s of TRICKY) assert.deepEqual(parsePsLiteral(psLiteral(s), 0), { value: s, end: psLiteral(s).length });
});

test('the encoded command line holds nothing cmd.exe acts on, and powershell.exe reads the script back', () => {
  const args = powershellArgs(readFilesScript(TRICKY));
  assert.match(args, /^-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand [A-Za-z0-9+/=]+$/);
  assert.deepEqual(parsePowerShellArgs(`powershell.exe ${args}`), { script: readFilesScript(TRICKY) });
  // pywinrm's run_ps shape, the short forms, -Command, and what the simulator cannot run
  const b64 = encodePowerShell('Get-Date');
  for (const line of [`powershell -encodedcommand ${b64}`, `powershell -e ${b64}`, `powershell -ec ${b64}`, `powershell -nop -ep Bypass -enc ${b64}`]) assert.deepEqual(parsePowerShellArgs(line), { script: 'Get-Date' }, line);
  assert.deepEqual(parsePowerShellArgs('powershell -NoProfile -Command Get-Date -Format o'), { script: 'Get-Date -Format o' });
  assert.deepEqual(parsePowerShellArgs('powershell Get-Date'), { script: 'Get-Date' });
  assert.match((parsePowerShellArgs('powershell -File x.ps1') as { unsupported: string }).unsupported, /-File/);
  assert.match((parsePowerShellArgs('powershell -NoProfile') as { unsupported: string }).unsupported, /interactive/);
  assert.match((parsePowerShellArgs('powershell -enc %%%') as { error: string }).error, /not properly encoded/);
});

test('file-read scripts are recognised, with quotes in the path', () => {
  assert.deepEqual(parseReadFiles(readFilesScript(["C:\\Lab's\\heartbeat.json"])), ["C:\\Lab's\\heartbeat.json"]);
  assert.deepEqual(parseReadFiles(readFilesScript(['C:\\a b\\x.json', "C:\\it’s\\y.ini", 'C:\\z.jsonl'])), ['C:\\a b\\x.json', "C:\\it’s\\y.ini", 'C:\\z.jsonl']);
  // anything but the exact script body is some other script
  assert.equal(parseReadFiles(readFilesScript(['C:\\x']).replace("Write('-')", "Write('+')")), undefined);
  assert.equal(parseReadFiles(`${readFilesScript(['C:\\x'])}calc.exe\n`), undefined);
  assert.equal(parseGetContent("Get-Content -LiteralPath 'C:\\LabStation\\hb.json' -Raw -Encoding UTF8"), 'C:\\LabStation\\hb.json');
  assert.equal(parseGetContent("Get-Content -LiteralPath 'C:\\it''s.json' -Raw -Encoding UTF8"), "C:\\it's.json");
  assert.equal(parseReadFiles('Get-Process'), undefined);
});

test('the multi-file read output: bytes, missing, a per-file error, and anything else refused', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  assert.deepEqual(parseReadFilesOutput(`+${b64('{"a":1}')}\r\n-\n!${b64('Access to the path is denied.')}\n`, 3), [
    { bytes: Buffer.from('{"a":1}') },
    { missing: true },
    { error: 'Access to the path is denied.' },
  ]);
  assert.deepEqual(parseReadFilesOutput('+\n', 1), [{ bytes: Buffer.alloc(0) }], 'an empty file is not a missing one');
  assert.equal(parseReadFilesOutput(`+${b64('x')}\n`, 2), undefined, 'a line short');
  assert.equal(parseReadFilesOutput('+not base64!\n', 1), undefined);
  assert.equal(parseReadFilesOutput('hello\n', 1), undefined);
});
