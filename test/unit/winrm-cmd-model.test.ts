// The simulator's model of a Windows station behind WinRS (sim/winrm/cmdline.ts, windows.ts), rule by rule as
// reference/winrm/ARGV.md §2 states them: cmd.exe's /C quote rule, percent phase, delayed expansion, operators,
// redirections and blocks; the UCRT and CommandLineToArgvW splitters; AutoHotkey's switches; and the programs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CmdSyntaxError, ahkArgs, commandLineToArgvW, expandPercent, parseCmdLine, slashCQuotes, ucrtArgv, winrsJoin } from '../../src/sim/winrm/cmdline.js';
import { TrivialHandler, type CommandRequest } from '../../src/sim/winrm/handler.js';
import { SimWindows } from '../../src/sim/winrm/windows.js';
import { encodePowerShell } from '../../src/core/winrm/powershell.js';

const EXE = 'C:\\LabStation\\LabStation.exe';

function sim(handler = new TrivialHandler()) {
  const started: CommandRequest[] = [];
  const windows = new SimWindows({ handler, computerName: 'LAB-01', record: (r) => started.push(r) });
  const run = async (line: string) => {
    started.length = 0;
    const r = await windows.run(line, { user: 'LAB\\LabGatewaySvc', codepage: 65001 }, new AbortController().signal);
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString(), started: [...started] };
  };
  return { windows, run, handler };
}

test('WinRS join: Command, then each Arguments element after one space; XML end-of-line handling turns CR into LF', () => {
  assert.equal(winrsJoin('cmd.exe', ['/c', 'echo', 'hi']), 'cmd.exe /c echo hi');
  assert.equal(winrsJoin('x', ['a\r\nb', 'c\rd']), 'x a\nb c\nd');
  assert.equal(winrsJoin('hostname', []), 'hostname');
});

test('cmd /C quote rule (cmd /?): kept only for exactly two quotes around an executable with whitespace; otherwise first and last removed', () => {
  const isExecutable = (p: string) => p === 'C:\\Program Files\\x.exe';
  assert.equal(slashCQuotes('"C:\\Program Files\\x.exe"', { s: false, isExecutable }), '"C:\\Program Files\\x.exe"');
  assert.equal(slashCQuotes('"C:\\Program Files\\x.exe"', { s: true, isExecutable }), 'C:\\Program Files\\x.exe');
  assert.equal(slashCQuotes('"C:\\Program Files\\x.exe" a', { s: false, isExecutable }), '"C:\\Program Files\\x.exe" a');
  assert.equal(slashCQuotes('"C:\\Program Files\\x.exe" "a"', { s: false, isExecutable }), 'C:\\Program Files\\x.exe" "a');
  assert.equal(slashCQuotes('"C:\\Program Files\\y.exe" a', { s: false, isExecutable }), 'C:\\Program Files\\y.exe a');
  assert.equal(slashCQuotes('""C:\\Program Files\\x.exe" "a""', { s: false, isExecutable }), '"C:\\Program Files\\x.exe" "a"');
  assert.equal(slashCQuotes('C:\\x.exe "a" "b"', { s: true, isExecutable }), 'C:\\x.exe "a" "b"', 'a line not starting with a quote is untouched');
});

test('percent phase, command-line mode: defined names expand once, undefined ones stay and resume at their closing %', () => {
  const env: Record<string, string> = { B: 'a', PATH: 'C:\\Windows', EMPTY: '' };
  const lookup = (n: string) => env[n.toUpperCase()];
  assert.equal(expandPercent('%a %b% c%', lookup), '%a a c%', 'the ARGV.md example');
  assert.equal(expandPercent('%%PATH%%', lookup), '%C:\\Windows%', '%% is not reduced on a /C line');
  assert.equal(expandPercent('50% of %PATH%', lookup), '50% of C:\\Windows');
  assert.equal(expandPercent('"%PATH%" ^%PATH^%', lookup), '"C:\\Windows" ^%PATH^%', 'quotes do not stop it; a caret does not escape a closing %');
  assert.equal(expandPercent('%path:~3% %PATH:~0,2% %PATH:~-3% %PATH:win=Lin%', lookup), 'Windows C: ows C:\\Lindows');
  assert.equal(expandPercent('%EMPTY%x%UNDEF:~0,1%', lookup), '%EMPTY%x%UNDEF:~0,1%');
  assert.equal(expandPercent('%B%%B%', (n) => (n === 'B' ? '%B%' : undefined)), '%B%%B%', 'an inserted value is not rescanned');
});

test('special-character phase: operators, precedence, carets, blocks and redirections; LF ends the line', () => {
  assert.deepEqual(parseCmdLine('a & b'), { kind: '&', left: { kind: 'simple', text: 'a ', redirects: [] }, right: { kind: 'simple', text: 'b', redirects: [] } });
  const t = parseCmdLine('a | b && c & d || e') as { kind: string; left: { kind: string; left: { kind: string } } };
  assert.equal(t.kind, '&');
  assert.equal(t.left.kind, '&&');
  assert.equal(t.left.left.kind, '|');
  assert.deepEqual(parseCmdLine('x "a & b" ^& c^^d^"e'), { kind: 'simple', text: 'x "a & b" & c^d"e', redirects: [] });
  assert.deepEqual(parseCmdLine('x a 2>nul >>"C:\\log file.txt" 2>&1 <in'), {
    kind: 'simple',
    text: 'x a    ',
    redirects: [
      { fd: 2, op: '>', target: 'nul' },
      { fd: 1, op: '>>', target: 'C:\\log file.txt' },
      { fd: 2, op: '>&', to: 1 },
      { fd: 0, op: '<', target: 'in' },
    ],
  });
  assert.deepEqual(parseCmdLine('echo a2>x'), { kind: 'simple', text: 'echo a2', redirects: [{ fd: 1, op: '>', target: 'x' }] }, 'a digit is a handle only on its own');
  assert.deepEqual(parseCmdLine('x --reason=(a) b)'), { kind: 'simple', text: 'x --reason=(a) b)', redirects: [] }, 'parentheses mid-command are text');
  assert.equal(parseCmdLine('(a & b) > out').kind, 'group');
  assert.deepEqual(parseCmdLine('a\n& calc'), { kind: 'simple', text: 'a', redirects: [] });
  for (const [line, msg] of [['& calc', '& was unexpected at this time.'], ['a &&', 'The syntax of the command is incorrect.'], ['a | ', 'The syntax of the command is incorrect.'], ['a >', 'The syntax of the command is incorrect.'], ['(a', 'The syntax of the command is incorrect.']]) {
    assert.throws(() => parseCmdLine(line!), (e: unknown) => e instanceof CmdSyntaxError && e.message === msg, line);
  }
});

test('UCRT splitter (post-2008) vs CommandLineToArgvW', () => {
  assert.deepEqual(ucrtArgv('"C:\\a b\\x.exe" a "b c" d'), ['C:\\a b\\x.exe', 'a', 'b c', 'd']);
  assert.deepEqual(ucrtArgv('x a\\\\\\"b "c\\\\" \\\\d'), ['x', 'a\\"b', 'c\\', '\\\\d']);
  assert.deepEqual(ucrtArgv('x "" a""b "a""b c" "'), ['x', '', 'ab', 'a"b c', '']);
  assert.deepEqual(ucrtArgv('x a"b"" c d'), ['x', 'ab" c d'], 'inside quotes "" stays inside');
  assert.deepEqual(commandLineToArgvW('x a"b"" c d'), ['x', 'ab"', 'c', 'd'], 'CommandLineToArgvW leaves the quotes');
  assert.deepEqual(ucrtArgv('x\\"y" a'), ['x\\y', 'a'], 'argv[0]: quotes only toggle, no escapes');
  assert.deepEqual(ucrtArgv('  x\t y  '), ['', 'x', 'y']);
});

test("AutoHotkey's compiled-script switches: leading /restart and /force consumed, /script switches mode", () => {
  assert.deepEqual(ahkArgs(['/force', '/RESTART', 'status', '/force']), { args: ['status', '/force'], scriptMode: false });
  assert.deepEqual(ahkArgs(['/Script', 'x.ahk', 'a']), { args: ['x.ahk', 'a'], scriptMode: true });
  assert.deepEqual(ahkArgs([]), { args: [], scriptMode: false });
});

test('programs: LabStation.exe gets its A_Args; cmd /c nests with its own switches; echo, exit and ERRORLEVEL; unknown names get 9009', async () => {
  const { run } = sim();
  const ls = await run(`${EXE} /force status-json "C:\\Lab Data\\s.json"`);
  assert.deepEqual(ls.started.map((s) => [s.command, s.args]), [[EXE, ['status-json', 'C:\\Lab Data\\s.json']]]);
  assert.equal(ls.started[0]!.programLine, `${EXE} /force status-json "C:\\Lab Data\\s.json"`);
  assert.equal(ls.started[0]!.user, 'LAB\\LabGatewaySvc');
  const nested = await run(`cmd /c ${EXE} status`);
  assert.deepEqual(nested.started.map((s) => s.command), ['C:\\Windows\\System32\\cmd.exe', EXE]);
  assert.deepEqual(JSON.parse(nested.out).args, ['status']);
  assert.deepEqual(JSON.parse((await run(`cmd.exe /s /c ""${EXE}" "a b""`)).out).args, ['a b']);
  // the recorded pypsrp exchange: echo keeps its trailing space, 2>&1-style redirection, exit code of the last command
  assert.deepEqual(await run('cmd.exe /c echo out && echo err>&2 && exit 1').then((r) => [r.out, r.err, r.code]), ['out \r\n', 'err \r\n', 1]);
  assert.deepEqual(await run('echo %USERNAME% %COMPUTERNAME% %CD%').then((r) => r.out), 'LabGatewaySvc LAB-01 C:\\Users\\LabGatewaySvc\r\n');
  assert.deepEqual(await run(`${EXE} exit 3 || echo failed %ERRORLEVEL%`).then((r) => [r.out, r.code]), ['exiting 3\nfailed 0\r\n', 0], '%ERRORLEVEL% is expanded when the line is read');
  assert.deepEqual(await run(`cmd /v:on /c ${EXE} exit 4 ^& echo !ERRORLEVEL! !UNDEF!x`).then((r) => r.out), 'exiting 4\n4 x\r\n', 'delayed expansion when switched on');
  assert.deepEqual(await run('C:\\Program Files\\x.exe').then((r) => [r.err, r.code]), ["'C:\\Program' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", 9009]);
  assert.deepEqual(await run('LabStation.exe status').then((r) => r.code), 9009, 'C:\\LabStation is not on the PATH');
  assert.deepEqual(await run(`${EXE} a & whoami & hostname`).then((r) => [r.started.map((s) => s.command.split('\\').pop()), r.out.split('\n').slice(1)]), [['LabStation.exe', 'whoami.exe', 'HOSTNAME.EXE'], ['lab-01\\labgatewaysvc\r', 'LAB-01\r', '']]);
  assert.equal((await run('exit 5 & echo never')).code, 5);
  assert.equal((await run('x'.repeat(8192))).err, 'The command line is too long.\r\n');
});

test('redirections go to the station files; a missing input stops the command; nul swallows', async () => {
  const { run, handler } = sim();
  assert.equal((await run(`${EXE} status > C:\\LabStation\\out.txt 2>&1`)).out, '');
  assert.deepEqual(JSON.parse(handler.files.get('c:\\labstation\\out.txt')!.toString()), { command: EXE, args: ['status'] });
  await run('echo more>>C:\\LabStation\\out.txt');
  assert.match(handler.files.get('c:\\labstation\\out.txt')!.toString(), /\nmore\r\n$/);
  assert.deepEqual(await run('echo x > Z:\\nowhere\\f.txt').then((r) => [r.err, r.code]), ['The system cannot find the path specified.\r\n', 1]);
  const missing = await run(`${EXE} status < C:\\LabStation\\none.txt`);
  assert.deepEqual([missing.err, missing.started.length, missing.code], ['The system cannot find the file specified.\r\n', 0, 1]);
  assert.equal((await run(`${EXE} exit 1 2>nul`)).err, '');
});

test('what the simulator does not implement says so, and names Windows would not find get cmd.exe\'s own message', async () => {
  const { run } = sim();
  assert.match((await run('dir C:\\')).err, /^labops simulator: the cmd\.exe command 'dir' with arguments is not supported by the simulator/);
  assert.match((await run('ipconfig /all')).err, /^labops simulator: C:\\Windows\\System32\\ipconfig\.exe is not supported by the simulator/);
  assert.match((await run('cmd')).err, /an interactive cmd\.exe \(no \/c\) is not supported by the simulator/);
  const ps = await run(`powershell -encodedcommand ${encodePowerShell('Stop-Computer -Force')}`);
  assert.equal(ps.code, 1);
  assert.match(ps.err, /^labops simulator: this PowerShell script is not supported by the simulator .*: Stop-Computer -Force\r\n$/);
  assert.doesNotMatch(ps.err, /not recognized/);
  assert.equal(ps.started[0]!.powershell, 'Stop-Computer -Force');
  assert.match((await run(`${EXE} /script x.ahk`)).err, /AutoHotkey script host\) is not supported by the simulator/);
  assert.equal((await run('calc')).code, 0, 'calc.exe exists on Windows');
  assert.equal((await run('nosuchtool')).code, 9009);
});
