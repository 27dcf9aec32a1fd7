// Arguments cannot be split or injected: PowerShell single-quoted literals inside -EncodedCommand, read back by the
// simulator exactly; and the simulator reproduces how cmd.exe mangles pywinrm's unquoted run_cmd lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePowerShell, encodePowerShell, execWrapperScript, parsePsLiteral, powershellArgs, psLiteral, readFilesScript, parseReadFilesOutput } from '../../src/core/winrm/powershell.js';
import { commandLineToArgv, splitCmdOperators } from '../../src/sim/winrm/cmdline.js';
import { parseExecWrapper, parseGetContent, parseReadFiles } from '../../src/sim/winrm/handler.js';

const TRICKY = [
  '--reason=Remote order & calc',
  'it\'s "quoted"',
  '$(Stop-Computer)',
  '`backtick` ; Remove-Item C:\\ -Recurse',
  '%PATH% ^& | > <',
  'ünïcødé 日本語 ✓ 😀',
  'line1\nline2',
  '',
  ' leading and trailing ',
  '\u2018curly\u2019 quotes',
  'C:\\path with\\trailing\\',
  '@(splat) @args $args',
];

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

test('the call-operator wrapper carries every argument exactly, one argument each', () => {
  const script = execWrapperScript('C:\\LabStation\\LabStation.exe', ['power', 'shutdown', ...TRICKY]);
  assert.match(script, /\n& \$exe @argv\n/);
  assert.match(script, /exit \$LASTEXITCODE/);
  assert.match(script, /\$argv = @\('power', 'shutdown', '--reason=Remote order & calc', /);
  assert.deepEqual(parseExecWrapper(script), { exe: 'C:\\LabStation\\LabStation.exe', args: ['power', 'shutdown', ...TRICKY] });
  // no arguments at all
  assert.deepEqual(parseExecWrapper(execWrapperScript('x.exe', [])), { exe: 'x.exe', args: [] });
});

test('the encoded command line contains no cmd.exe metacharacters', () => {
  const line = `powershell.exe ${powershellArgs(execWrapperScript('C:\\LabStation\\LabStation.exe', TRICKY))}`;
  assert.match(line, /^powershell\.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand [A-Za-z0-9+/=]+$/);
  assert.equal(splitCmdOperators(line).rest, undefined);
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

test("pywinrm's unquoted run_cmd: spaces split, & starts another command (the upstream bug, reproduced)", () => {
  const line = 'C:\\LabStation\\LabStation.exe power shutdown --reason=Remote order & calc';
  const { first, rest } = splitCmdOperators(line);
  assert.deepEqual(commandLineToArgv(first), ['C:\\LabStation\\LabStation.exe', 'power', 'shutdown', '--reason=Remote', 'order']);
  assert.equal(rest, 'calc');
  assert.deepEqual(splitCmdOperators('a "x & y" b'), { first: 'a "x & y" b' });
});

test('CommandLineToArgvW rules', () => {
  assert.deepEqual(commandLineToArgv('a "b c" d'), ['a', 'b c', 'd']);
  assert.deepEqual(commandLineToArgv('"a\\"b" c\\\\d'), ['a"b', 'c\\\\d']);
  assert.deepEqual(commandLineToArgv('a\\\\\\\\"b c" d'), ['a\\\\b c', 'd']);
  assert.deepEqual(commandLineToArgv('  x\t y  '), ['x', 'y']);
  assert.deepEqual(commandLineToArgv('""'), ['']);
});
