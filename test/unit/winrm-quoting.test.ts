// The quoting function (domain/winrs-command-line.ts) against the simulator's model of Windows (sim/winrm: the WinRS
// join, cmd.exe, the UCRT splitter, AutoHotkey's switches): reference/winrm/ARGV.md §6 row by row, the extended-
// profile and known-wrong encodings of §3, a property test over a hostile alphabet, and the refusal messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CMD_LINE_BUDGET, UnpassableArgument, argumentProblem, executableProblem, quoteArgument, winrsCommandLine } from '../../src/domain/winrs-command-line.js';
import { UsageError } from '../../src/domain/errors.js';
import { commandLineToArgvW, ucrtArgv, winrsJoin } from '../../src/sim/winrm/cmdline.js';
import type { CommandHandler, CommandRequest } from '../../src/sim/winrm/handler.js';
import { SimWindows } from '../../src/sim/winrm/windows.js';

const EXE = 'C:\\LabStation\\LabStation.exe';

/** LabStation.exe that only records: whatever its A_Args, it exits 0 without output. */
const recorder: CommandHandler = { run: async () => ({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }) };

/** Runs a WinRS Command + Arguments on the simulated station; the programs started and LabStation's A_Args. */
async function station(command: string, args: string[] = []) {
  const started: CommandRequest[] = [];
  const windows = new SimWindows({ handler: recorder, computerName: 'LAB-01', record: (r) => started.push(r) });
  const r = await windows.run(winrsJoin(command, args), { user: 'LabGatewaySvc', codepage: 65001 }, new AbortController().signal);
  const labstation = started.filter((s) => s.command === EXE);
  return { exitCode: r.exitCode, stderr: r.stderr.toString(), programs: started.map((s) => s.command), aArgs: labstation.length === 1 ? labstation[0]!.args : undefined, windows };
}

/** labops' way: the quoting function's two elements. */
async function viaLabops(argv: string[]) {
  const line = winrsCommandLine(EXE, argv);
  return { wire: line.arguments, ...(await station(line.command, line.arguments ? [line.arguments] : [])) };
}

/** pywinrm run_cmd's way (Lab-Gateway v0): every argument joined by one space into one Arguments element, unquoted. */
const viaRawJoin = (argv: string[]) => station(EXE, argv.length ? [argv.join(' ')] : []);

const PATH = new SimWindows({ handler: recorder, computerName: 'X', record: () => {} }).environment('LabGatewaySvc').get('PATH')!;

type Row = [n: number, argv: string[], wire: string | { refuse: string }, raw: string[] | ((r: Awaited<ReturnType<typeof station>>) => void)];
const P = ['power', 'shutdown'];
const notRecognized = (name: string) => (r: Awaited<ReturnType<typeof station>>) => assert.match(r.stderr, new RegExp(`'${name}' is not recognized`));

// ARGV.md §6: argv, the strict wire text (⇥ = TAB), and what pywinrm's raw join delivers instead
const TABLE: Row[] = [
  [1, [], '', []],
  [2, ['status'], '"status"', ['status']],
  [3, ['prepare-session', '--guard-grace=90'], '"prepare-session" "--guard-grace=90"', ['prepare-session', '--guard-grace=90']],
  [4, ['release-session', '--reboot'], '"release-session" "--reboot"', ['release-session', '--reboot']],
  [5, [...P, '--delay=60', '--reason=Reservation completed'], '"power" "shutdown" "--delay=60" "--reason=Reservation completed"', [...P, '--delay=60', '--reason=Reservation', 'completed']],
  [6, ['session', 'guard', '--message=Please save your work now'], '"session" "guard" "--message=Please save your work now"', ['session', 'guard', '--message=Please', 'save', 'your', 'work', 'now']],
  [7, [...P, '--reason=a\tb'], '"power" "shutdown" "--reason=a\tb"', [...P, '--reason=a', 'b']],
  [8, ['status-json', ''], '"status-json" ""', ['status-json']],
  [9, [...P, '--reason=a  b'], '"power" "shutdown" "--reason=a  b"', [...P, '--reason=a', 'b']],
  [10, [...P, '--reason= x '], '"power" "shutdown" "--reason= x "', [...P, '--reason=', 'x']],
  [11, [...P, ' '], '"power" "shutdown" " "', [...P]],
  [12, ['status-json', 'C:\\Lab Data\\status.json'], '"status-json" "C:\\Lab Data\\status.json"', ['status-json', 'C:\\Lab', 'Data\\status.json']],
  [13, ['diagnostics', 'C:\\Lab Data\\'], '"diagnostics" "C:\\Lab Data\\\\"', ['diagnostics', 'C:\\Lab', 'Data\\']],
  [14, ['diagnostics', 'C:\\a\\\\'], '"diagnostics" "C:\\a\\\\\\\\"', ['diagnostics', 'C:\\a\\\\']],
  [15, ['status-json', '\\\\srv\\share\\s.json'], '"status-json" "\\\\srv\\share\\s.json"', ['status-json', '\\\\srv\\share\\s.json']],
  [16, ['status-json', 'C:\\a\\ b'], '"status-json" "C:\\a\\ b"', ['status-json', 'C:\\a\\', 'b']],
  [17, [...P, '--reason=a&b'], '"power" "shutdown" "--reason=a&b"', (r) => (assert.deepEqual(r.aArgs, [...P, '--reason=a']), notRecognized('b')(r))],
  [18, [...P, '--reason=a|b'], '"power" "shutdown" "--reason=a|b"', (r) => (assert.deepEqual(r.aArgs, [...P, '--reason=a']), notRecognized('b')(r))],
  [19, [...P, '--reason=<a>'], '"power" "shutdown" "--reason=<a>"', (r) => (assert.equal(r.aArgs, undefined), assert.match(r.stderr, /syntax of the command is incorrect/))],
  [20, [...P, '--reason=a^b'], '"power" "shutdown" "--reason=a^b"', [...P, '--reason=ab']],
  // a trailing caret escapes the end of the line: it is dropped
  [21, [...P, '--reason=a^'], '"power" "shutdown" "--reason=a^"', [...P, '--reason=a']],
  // ( is special only where a command starts and ) only inside a block (ARGV.md S10): mid-argument both stay text
  [22, [...P, '--reason=(a)'], '"power" "shutdown" "--reason=(a)"', [...P, '--reason=(a)']],
  [23, [...P, '--reason=a=b,c;d'], '"power" "shutdown" "--reason=a=b,c;d"', [...P, '--reason=a=b,c;d']],
  [24, [...P, '--reason=@home #1 $5 *? ~'], '"power" "shutdown" "--reason=@home #1 $5 *? ~"', [...P, '--reason=@home', '#1', '$5', '*?', '~']],
  [25, [...P, "--reason=it's"], '"power" "shutdown" "--reason=it\'s"', [...P, "--reason=it's"]],
  [26, ['account', 'create', 'labuser', 'P@ss^w0rd&(1)'], '"account" "create" "labuser" "P@ss^w0rd&(1)"', (r) => (assert.deepEqual(r.aArgs, ['account', 'create', 'labuser', 'P@ssw0rd']), notRecognized('1')(r))],
  [27, ['status', '/force'], '"status" "/force"', ['status', '/force']],
  [28, ['/force', 'status'], { refuse: '/force' }, ['status']],
  [29, [...P, '--reason=%PATH%'], { refuse: '%' }, [...P, `--reason=${PATH}`]],
  [30, [...P, '--reason=%%'], { refuse: '%' }, [...P, '--reason=%%']],
  [31, [...P, '--reason=50%'], { refuse: '%' }, [...P, '--reason=50%']],
  [32, [...P, '--reason=%PATH:a=b%'], { refuse: '%' }, [...P, `--reason=${PATH.replace(/a/gi, 'b')}`]],
  [33, [...P, '--reason=!USERNAME!'], { refuse: '!' }, [...P, '--reason=!USERNAME!']],
  [34, ['session', 'guard', '--message=say "hi"'], { refuse: '"' }, ['session', 'guard', '--message=say', 'hi']],
  [35, [...P, '--reason=a\\"b'], { refuse: '"' }, [...P, '--reason=a"b']],
  [36, [...P, '"'], { refuse: '"' }, [...P, '']],
  [37, [...P, '--reason=a" & calc & "'], { refuse: '"' }, [...P, '--reason=a & calc & ']],
  [38, [...P, '--reason=Wartung für Kühlraum'], '"power" "shutdown" "--reason=Wartung für Kühlraum"', [...P, '--reason=Wartung', 'für', 'Kühlraum']],
  [39, ['session', 'guard', '--message=点検 🔧'], '"session" "guard" "--message=点検 🔧"', ['session', 'guard', '--message=点検', '🔧']],
  [40, [...P, '--reason=a\nb'], { refuse: '\n' }, [...P, '--reason=a']],
  [41, [...P, '--reason=a\rb'], { refuse: '\r' }, [...P, '--reason=a']],
  [42, [...P, '--reason=a\u0000b'], { refuse: '\u0000' }, () => {}],
  [43, [...P, '--reason=a\u001ab'], { refuse: '\u001a' }, () => {}],
  [44, [...P, '--reason=a\u0085b'], { refuse: '\u0085' }, () => {}],
  [45, [...P, `--reason=${'a'.repeat(8200)}`], { refuse: 'length' }, (r) => (assert.equal(r.exitCode, 1), assert.match(r.stderr, /The command line is too long/), assert.deepEqual(r.programs, []))],
];

for (const [n, argv, wire, raw] of TABLE) {
  test(`ARGV.md §6 row ${n}: ${JSON.stringify(argv).slice(0, 70)}`, async () => {
    if (typeof wire === 'string') {
      const r = await viaLabops(argv);
      assert.equal(r.wire, wire, 'strict wire text');
      assert.deepEqual(r.aArgs, argv, 'A_Args on the station');
      assert.deepEqual(r.programs, [EXE], 'nothing else runs');
      assert.equal(r.stderr, '');
    } else {
      assert.throws(() => winrsCommandLine(EXE, argv), (e: unknown) => {
        assert.ok(e instanceof UnpassableArgument && e instanceof UsageError);
        if (wire.refuse === 'length') assert.match(e.message, /command line \d+ characters long: cmd\.exe takes at most 8191/);
        else if (wire.refuse === '/force') assert.match(e.message, /argument 1 "\/force" would be taken by LabStation\.exe's AutoHotkey runtime/);
        else assert.equal(e.character, wire.refuse);
        return true;
      });
    }
    if (typeof raw === 'function') raw(await viaRawJoin(argv));
    else assert.deepEqual((await viaRawJoin(argv)).aArgs, raw, 'pywinrm run_cmd');
  });
}

test('ARGV.md §3.2 extended-profile wire texts give the documented A_Args on the model (not sent by labops)', async () => {
  const cases: [string, string[]][] = [
    ['"power" "shutdown" "--reason=%%cd:~,%PATH%%cd:~,%"', [...P, '--reason=%PATH%']],
    ['"power" "shutdown" "--reason=%%cd:~,%%%cd:~,%"', [...P, '--reason=%%']],
    ['"power" "shutdown" "--reason=50%%cd:~,%"', [...P, '--reason=50%']],
    ['"power" "shutdown" "--reason=%%cd:~,%PATH:a=b%%cd:~,%"', [...P, '--reason=%PATH:a=b%']],
    ['"session" "guard" "--message=say ""hi"""', ['session', 'guard', '--message=say "hi"']],
    ['"power" "shutdown" "--reason=a\\\\""b"', [...P, '--reason=a\\"b']],
    ['"power" "shutdown" """"', [...P, '"']],
    ['"power" "shutdown" "--reason=a"" & calc & """', [...P, '--reason=a" & calc & "']],
  ];
  for (const [wire, want] of cases) {
    const r = await station(EXE, [wire]);
    assert.deepEqual(r.aArgs, want, wire);
    assert.deepEqual(r.programs, [EXE], wire);
  }
  // the same line split by CommandLineToArgvW instead of the UCRT: row 37's note
  assert.deepEqual(commandLineToArgvW(`${EXE} "--reason=a"" & calc & """`).slice(1), ['--reason=a"', '&', 'calc', '&', '"']);
});

test('ARGV.md §3.4: CRT-only quoting lets `& calc` run; so does an unquoted & (the model, not a special case)', async () => {
  const crtOnly = await station(EXE, ['"power" "shutdown" "--reason=a\\" & calc & \\""']);
  assert.ok(crtOnly.programs.includes('C:\\Windows\\System32\\calc.exe'), JSON.stringify(crtOnly.programs));
  const raw = await viaRawJoin([...P, '--reason=Remote order & calc']);
  assert.deepEqual(raw.aArgs, [...P, '--reason=Remote', 'order']);
  assert.deepEqual(raw.programs, [EXE, 'C:\\Windows\\System32\\calc.exe']);
  // ^ inside quotes is literal
  assert.deepEqual((await station(EXE, ['"a^&b"'])).aArgs, ['a^&b']);
});

// ---- property test: every list from a hostile alphabet round-trips exactly or is refused ----

const ALPHABET = ['"', '%', '!', '^', '&', '|', '<', '>', '(', ')', '\\', '\\\\', ' ', '\t', '@', ',', ';', '=', "'", '`', '~', '$', '*', '?', '/', '-', ':', '.', 'a', 'Z', '0', 'é', '日', '😀', '\u00a0', '\n', '\r', '\u0000', '\u001a', '\u007f', '\u0085', '\u2028', '\ud800', '/force', '/script', 'PATH', 'cd:~,'];
// eslint-disable-next-line no-control-regex -- the characters ARGV.md §3.1 refuses, written independently of the code
const MUST_REFUSE = /["%!\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udfff](?<![\ud800-\udbff][\udc00-\udfff])(?![\udc00-\udfff])/;

function rng(seed: number): () => number {
  // mulberry32: reproducible runs; the seed is in the failure message
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('property: hostile argument lists round-trip exactly through cmd.exe and the UCRT, or are refused for a reason they contain', async () => {
  const seed = Number(process.env.LABOPS_PROPERTY_SEED ?? 20260824);
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  let passed = 0;
  let refused = 0;
  for (let n = 0; n < 3000; n++) {
    const argv = Array.from({ length: Math.floor(random() * 6) }, () => Array.from({ length: Math.floor(random() * 7) }, () => pick(ALPHABET)).join(''));
    const label = `seed ${seed}, case ${n}: ${JSON.stringify(argv)}`;
    let line;
    try {
      line = winrsCommandLine(EXE, argv);
    } catch (e) {
      assert.ok(e instanceof UnpassableArgument, label);
      const ahk = argv.length > 0 && /^\/(force|restart|script)$/i.test(argv[0]!);
      assert.ok(argv.some((a) => MUST_REFUSE.test(a)) || ahk, `refused without cause: ${label}: ${e.message}`);
      if (e.character !== undefined) assert.ok(argv[e.argument - 1]!.includes(e.character), `names a character of its argument: ${label}`);
      refused++;
      continue;
    }
    assert.ok(!argv.some((a) => MUST_REFUSE.test(a)), `accepted a refused character: ${label}`);
    const r = await station(line.command, line.arguments ? [line.arguments] : []);
    assert.deepEqual(r.aArgs, argv, label);
    assert.deepEqual(r.programs, [EXE], label);
    assert.equal(r.exitCode, 0, label);
    passed++;
  }
  assert.ok(passed > 300 && refused > 300, `both outcomes exercised (${passed} passed, ${refused} refused)`);
});

// ---- the function itself ----

test('encoding: a pair of quotes, trailing backslashes doubled, inner ones untouched', () => {
  assert.equal(quoteArgument(''), '""');
  assert.equal(quoteArgument('a b'), '"a b"');
  assert.equal(quoteArgument('C:\\a\\b\\'), '"C:\\a\\b\\\\"');
  assert.equal(quoteArgument('\\\\srv\\x\\\\'), '"\\\\srv\\x\\\\\\\\"');
  assert.deepEqual(winrsCommandLine(EXE, []), { command: EXE, arguments: '' });
  assert.deepEqual(ucrtArgv(`${EXE} ${quoteArgument('C:\\a\\b\\')}`).slice(1), ['C:\\a\\b\\']);
});

test('refusals name the argument, the character and why', () => {
  const msg = (argv: string[]) => argumentProblem(argv)?.message ?? '';
  assert.match(msg(['power', 'shutdown', '--reason=50% done']), /^argument 3 "--reason=50% done" contains '%' \(U\+0025\) at position 12: cmd\.exe expands %NAME%/);
  assert.match(msg(['session', 'guard', '--message=say "hi"']), /argument 3 .* contains '"' \(U\+0022\) at position 15: a quote ends/);
  assert.match(msg(['status', 'a!b']), /argument 2 "a!b" contains '!' \(U\+0021\) .*delayed expansion/);
  assert.match(msg(['x', 'a\nb']), /argument 2 "a\\nb" contains a line feed \(U\+000A\) at position 2: a line feed ends the command line/);
  assert.match(msg(['x', 'a\rb']), /contains a carriage return \(U\+000D\)/);
  assert.match(msg(['x', 'a\u0000b']), /argument 2 "a\\u0000b" contains NUL \(U\+0000\) at position 2: NUL cannot be carried in the SOAP XML/);
  assert.match(msg(['x', '\u001b[31m']), /contains U\+001B at position 1: a control character cannot be carried/);
  assert.match(msg(['x', 'ok', '\ud800']), /argument 3 "\\ud800" contains U\+D800 .*unpaired surrogate/);
  assert.match(msg(['/Script', 'x.ahk']), /argument 1 "\/Script" would be taken by LabStation\.exe's AutoHotkey runtime/);
  assert.equal(argumentProblem(['x', 'a\tb', 'ü 😀', "it's", '^&|<>()']), undefined);
  // every message says nothing ran
  assert.match(msg(['x', '%']), /nothing was run$/);
});

test('length: the budget of 8000 characters is exact, and the message names the argument that crosses it', () => {
  const fill = (n: number) => ['status', 'x'.repeat(n)];
  // EXE (29) + space + "status" quoted (8) + space + quoted filler (n + 2)
  const exact = CMD_LINE_BUDGET - (EXE.length + 1 + 8 + 1 + 2);
  assert.equal(`${EXE} ${winrsCommandLine(EXE, fill(exact)).arguments}`.length, CMD_LINE_BUDGET);
  assert.throws(() => winrsCommandLine(EXE, fill(exact + 1)), /argument 2 "x{57}…" makes the command line 8001 characters long/);
  assert.throws(() => winrsCommandLine(EXE, [...fill(exact + 1), 'more']), /8001\+ characters/);
  // without a host, MAX_PATH stands in for the program path
  assert.ok(argumentProblem(fill(exact)));
  assert.equal(argumentProblem(fill(exact - 260 + EXE.length)), undefined);
});

test('the program path: absolute, unquoted-safe, or refused with the offending character', () => {
  for (const ok of [EXE, 'D:\\Tools\\Lab-Station_3.2\\LabStation.exe', 'C:\\PROGRA~1\\LABSTA~1\\LabStation.exe', '\\\\fileserver\\tools\\LabStation.exe']) assert.equal(executableProblem(ok), undefined, ok);
  assert.match(executableProblem('C:\\Program Files\\LabStation\\LabStation.exe')!.message, /contains a space \(U\+0020\) at position 11: the WinRS cmd shell starts it unquoted.*8\.3 short name/);
  assert.match(executableProblem('LabStation.exe')!.message, /is not an absolute path/);
  assert.match(executableProblem('C:\\Lab&Station\\LabStation.exe')!.message, /contains '&' \(U\+0026\) at position 7/);
  assert.throws(() => winrsCommandLine('C:\\Lab (x86)\\LabStation.exe', ['status']), UnpassableArgument);
});
