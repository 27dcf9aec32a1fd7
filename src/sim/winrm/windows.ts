// A simulated Windows lab PC as a WinRS command reaches it (reference/winrm/ARGV.md §1): winrshost runs
// `cmd.exe /c <line>`; cmd applies its /C quote rule, expands %VAR%, splits the line into commands at unquoted
// operators, applies redirections and starts each program it finds on the PATH with the text of its command. The
// programs: LabStation.exe (AutoHotkey v2: UCRT argv, its own switches, then the CommandHandler), powershell.exe
// (powershell.ts), a nested cmd.exe, hostname, whoami and a few GUI programs. Whatever the simulator does not
// implement says so ("not supported by the simulator"); names Windows would not find get cmd's own message.
import { CmdSyntaxError, ahkArgs, commandToken, expandDelayed, expandPercent, parseCmdLine, slashCQuotes, ucrtArgv, type CmdNode, type Redirect } from './cmdline.js';
import { DEFAULT_LABSTATION_EXE, type CommandHandler, type CommandRequest, type CommandResult } from './handler.js';
import { POWERSHELL_EXE, parsePowerShellArgs, runPowerShellScript } from './powershell.js';

/** The longest line cmd.exe accepts. */
export const CMD_LINE_LIMIT = 8191;

const SYSTEM32 = 'C:\\Windows\\System32';
const CMD_EXE = `${SYSTEM32}\\cmd.exe`;
const PATH = [SYSTEM32, 'C:\\Windows', `${SYSTEM32}\\Wbem`, `${SYSTEM32}\\WindowsPowerShell\\v1.0\\`];
const PATHEXT = ['.COM', '.EXE', '.BAT', '.CMD', '.VBS', '.VBE', '.JS', '.JSE', '.WSF', '.WSH', '.MSC'];

type ProgramKind = 'labstation' | 'cmd' | 'powershell' | 'hostname' | 'whoami' | 'gui' | 'not-simulated';

// Programs every Windows 10/11 lab PC has that the simulator does not implement: found, then refused honestly.
const NOT_SIMULATED = [
  'ipconfig.exe', 'netsh.exe', 'sc.exe', 'reg.exe', 'shutdown.exe', 'msg.exe', 'timeout.exe', 'tasklist.exe', 'taskkill.exe', 'schtasks.exe',
  'net.exe', 'certutil.exe', 'robocopy.exe', 'findstr.exe', 'find.exe', 'more.com', 'sort.exe', 'chcp.com', 'where.exe', 'wevtutil.exe',
  'quser.exe', 'query.exe', 'logoff.exe', 'ping.exe', 'systeminfo.exe', 'icacls.exe', 'attrib.exe', 'xcopy.exe', 'choice.exe', 'winrm.cmd', 'Wbem\\wmic.exe',
];

// cmd.exe's internal commands (`help`); the simulator implements echo, rem, exit, cd/chdir without arguments, and ver.
const BUILTINS = new Set(['assoc', 'break', 'call', 'cd', 'chdir', 'cls', 'color', 'copy', 'date', 'del', 'dir', 'echo', 'endlocal', 'erase', 'exit', 'for', 'ftype', 'goto', 'if', 'md', 'mkdir', 'mklink', 'move', 'path', 'pause', 'popd', 'prompt', 'pushd', 'rd', 'rem', 'ren', 'rename', 'rmdir', 'set', 'setlocal', 'shift', 'start', 'time', 'title', 'type', 'ver', 'verify', 'vol']);

const NOT_RECOGNIZED = (name: string) => `'${name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`;
const unsupported = (what: string) => `labops simulator: ${what} is not supported by the simulator\r\n`;

export interface SimWindowsOptions {
  handler: CommandHandler;
  computerName: string;
  /** called for every program started */
  record(req: CommandRequest): void;
}

/** Who runs a command, in which shell. */
export interface WinrsSession {
  /** the authenticated WinRM user (user, DOMAIN\user or user@domain) */
  user: string;
  /** the shell's WINRS_CODEPAGE */
  codepage: number;
}

function normalisePath(p: string): string {
  const unc = p.startsWith('\\\\');
  return (unc ? '\\\\' : '') + p.slice(unc ? 2 : 0).replace(/\//g, '\\').replace(/\\{2,}/g, '\\').replace(/\\$/, '').toLowerCase();
}

type Program = { path: string; kind: ProgramKind };

const SYSTEM_PROGRAMS: ReadonlyMap<string, Program> = new Map(
  (
    [
      [CMD_EXE, 'cmd'],
      [POWERSHELL_EXE, 'powershell'],
      [`${SYSTEM32}\\HOSTNAME.EXE`, 'hostname'],
      [`${SYSTEM32}\\whoami.exe`, 'whoami'],
      ...['calc.exe', 'notepad.exe', 'mspaint.exe', 'mstsc.exe'].map((p) => [`${SYSTEM32}\\${p}`, 'gui']),
      ...NOT_SIMULATED.map((p) => [`${SYSTEM32}\\${p}`, 'not-simulated']),
    ] as [string, ProgramKind][]
  ).map(([path, kind]) => [normalisePath(path), { path, kind }]),
);

/** One station's Windows: the programs installed, and `cmd.exe /c <line>` for each WinRS command. */
export class SimWindows {
  private readonly labstation: Program;
  private readonly labstationKey: string;

  constructor(private readonly o: SimWindowsOptions) {
    this.labstation = { path: o.handler.exe ?? DEFAULT_LABSTATION_EXE, kind: 'labstation' };
    this.labstationKey = normalisePath(this.labstation.path);
  }

  private program(key: string): Program | undefined {
    return key === this.labstationKey ? this.labstation : SYSTEM_PROGRAMS.get(key);
  }

  /** The environment a WinRS shell's cmd.exe starts with for a user (names compare case-insensitively). */
  environment(user: string): Map<string, string> {
    const userName = userNameOf(user);
    const profile = profileOf(user);
    const env: Record<string, string> = {
      ALLUSERSPROFILE: 'C:\\ProgramData',
      APPDATA: `${profile}\\AppData\\Roaming`,
      COMPUTERNAME: this.o.computerName,
      ComSpec: CMD_EXE,
      HOMEDRIVE: 'C:',
      HOMEPATH: `\\Users\\${userName}`,
      LOCALAPPDATA: `${profile}\\AppData\\Local`,
      NUMBER_OF_PROCESSORS: '4',
      OS: 'Windows_NT',
      Path: PATH.join(';'),
      PATHEXT: PATHEXT.join(';'),
      PROCESSOR_ARCHITECTURE: 'AMD64',
      ProgramData: 'C:\\ProgramData',
      ProgramFiles: 'C:\\Program Files',
      PUBLIC: 'C:\\Users\\Public',
      SystemDrive: 'C:',
      SystemRoot: 'C:\\Windows',
      TEMP: `${profile}\\AppData\\Local\\Temp`,
      TMP: `${profile}\\AppData\\Local\\Temp`,
      USERDOMAIN: this.o.computerName,
      USERNAME: userName,
      USERPROFILE: profile,
      windir: 'C:\\Windows',
    };
    return new Map(Object.entries(env).map(([k, v]) => [k.toUpperCase(), v]));
  }

  /** The program a command name starts, as cmd.exe searches: the path as given, else the current folder and PATH, with PATHEXT. */
  resolve(name: string, cwd: string): Program | undefined {
    const n = name.replace(/\//g, '\\');
    if (!n.trim()) return undefined;
    const hasExt = PATHEXT.some((e) => n.toLowerCase().endsWith(e.toLowerCase()));
    const candidates = (base: string) => (hasExt ? [base] : PATHEXT.map((e) => base + e));
    const absolute = /^[A-Za-z]:\\|^\\\\/.test(n);
    const dirs = absolute ? [''] : /[\\:]/.test(n) ? [`${cwd}\\`] : [`${cwd}\\`, ...PATH.map((d) => `${d.replace(/\\$/, '')}\\`)];
    for (const d of dirs) {
      for (const c of candidates(d + n)) {
        const found = this.program(normalisePath(c));
        if (found) return found;
      }
    }
    return undefined;
  }

  /** Runs a WinRS command line as `cmd.exe /c <line>` does. */
  async run(commandLine: string, session: WinrsSession, signal: AbortSignal): Promise<CommandResult> {
    const cmd = new CmdProcess(this, this.o, session, commandLine, this.environment(session.user), signal);
    const streams = new Streams();
    const code = await cmd.runSlashC(commandLine, { s: false, delayed: false }, streams, Buffer.alloc(0));
    return { exitCode: code, stdout: Buffer.concat(streams.out), stderr: Buffer.concat(streams.err) };
  }
}

function userNameOf(user: string): string {
  return user.replace(/^.*\\/, '').replace(/@.*$/, '');
}

function profileOf(user: string): string {
  return `C:\\Users\\${userNameOf(user)}`;
}

class Streams {
  out: Buffer[] = [];
  err: Buffer[] = [];
  write(fd: 1 | 2, s: string | Buffer): void {
    (fd === 1 ? this.out : this.err).push(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
  }
}

type Sink = { kind: 'parent'; fd: 1 | 2 } | { kind: 'nul' } | { kind: 'file'; path: string; data: Buffer[] };

/** One cmd.exe process: its environment, ERRORLEVEL, and whether `exit` ended it. */
class CmdProcess {
  private errorlevel = 0;
  private exited = false;
  private delayed = false;

  private readonly profile: string;

  constructor(
    private readonly windows: SimWindows,
    private readonly o: SimWindowsOptions,
    private readonly session: WinrsSession,
    private readonly winrsLine: string,
    private readonly env: Map<string, string>,
    private readonly signal: AbortSignal,
  ) {
    this.profile = profileOf(session.user);
  }

  private lookup = (name: string): string | undefined => {
    const key = name.toUpperCase();
    const v = this.env.get(key);
    if (v !== undefined) return v;
    // dynamic variables (set /?): exist without being in the environment
    if (key === 'CD') return this.profile;
    if (key === 'ERRORLEVEL') return String(this.errorlevel);
    if (key === 'CMDEXTVERSION') return '2';
    if (key === 'CMDCMDLINE') return `${CMD_EXE} /c ${this.winrsLine}`;
    if (key === 'RANDOM') return String(Math.floor(Math.random() * 32768));
    if (key === 'HIGHESTNUMANODENUMBER') return '0';
    if (key === 'DATE' || key === 'TIME') {
      const d = new Date();
      return key === 'DATE' ? d.toISOString().slice(0, 10) : d.toISOString().slice(11, 22).replace('.', ',');
    }
    return undefined;
  };

  /** The text after `cmd /c`: the /C quote rule, then the percent phase, then the special-character phase. */
  async runSlashC(rest: string, sw: { s: boolean; delayed: boolean }, streams: Streams, stdin: Buffer): Promise<number> {
    this.delayed = sw.delayed;
    if (rest.length > CMD_LINE_LIMIT) {
      streams.write(2, 'The command line is too long.\r\n');
      return 1;
    }
    const line = slashCQuotes(rest, { s: sw.s, isExecutable: (p) => this.windows.resolve(p, this.profile) !== undefined });
    let tree: CmdNode;
    try {
      tree = parseCmdLine(expandPercent(line, this.lookup));
    } catch (e) {
      if (!(e instanceof CmdSyntaxError)) throw e;
      streams.write(2, `${e.message}\r\n`);
      return 255; // (inferred) cmd's ERRORLEVEL after a syntax error
    }
    return this.exec(tree, streams, stdin);
  }

  private async exec(node: CmdNode, streams: Streams, stdin: Buffer): Promise<number> {
    if (this.exited || this.signal.aborted) return this.errorlevel;
    let code: number;
    switch (node.kind) {
      case '&':
        await this.exec(node.left, streams, stdin);
        code = await this.exec(node.right, streams, stdin);
        break;
      case '&&':
      case '||': {
        code = await this.exec(node.left, streams, stdin);
        if ((code === 0) === (node.kind === '&&')) code = await this.exec(node.right, streams, stdin);
        break;
      }
      case '|': {
        const piped = new Streams();
        await this.exec(node.left, piped, stdin);
        streams.err.push(...piped.err);
        code = await this.exec(node.right, streams, Buffer.concat(piped.out));
        break;
      }
      case 'group':
        code = await this.redirected(node.redirects, streams, stdin, (s, i) => this.exec(node.body, s, i));
        break;
      case 'simple':
        code = await this.redirected(node.redirects, streams, stdin, (s, i) => this.simple(node.text, s, i));
        break;
    }
    this.errorlevel = code;
    return code;
  }

  private path(p: string): string {
    return /^[A-Za-z]:\\|^\\\\/.test(p) ? p : `${this.profile}\\${p}`;
  }

  /** Opens the redirections (a missing input or an unwritable output fails the command before it runs), runs, routes the output. */
  private async redirected(redirects: Redirect[], streams: Streams, stdin: Buffer, run: (s: Streams, stdin: Buffer) => Promise<number>): Promise<number> {
    const sinks: Record<number, Sink> = { 1: { kind: 'parent', fd: 1 }, 2: { kind: 'parent', fd: 2 } };
    let input = stdin;
    for (const r of redirects) {
      if (r.op === '>&') {
        sinks[r.fd] = sinks[r.to] ?? { kind: 'nul' };
        continue;
      }
      if (r.op === '<') {
        const data = await this.o.handler.readFile?.(this.path(r.target)).catch(() => undefined);
        if (!data) {
          streams.write(2, 'The system cannot find the file specified.\r\n');
          return 1;
        }
        input = data;
        continue;
      }
      if (/^nul:?$/i.test(r.target)) {
        sinks[r.fd] = { kind: 'nul' };
        continue;
      }
      const path = this.path(r.target);
      const existing = r.op === '>>' ? ((await this.o.handler.readFile?.(path).catch(() => undefined)) ?? Buffer.alloc(0)) : Buffer.alloc(0);
      if (!(await this.o.handler.writeFile?.(path, existing))) {
        streams.write(2, 'The system cannot find the path specified.\r\n');
        return 1;
      }
      sinks[r.fd] = { kind: 'file', path, data: [existing] };
    }
    const local = new Streams();
    const code = await run(local, input);
    for (const [fd, data] of [[1, local.out], [2, local.err]] as const) {
      const sink = sinks[fd]!;
      if (sink.kind === 'parent') (sink.fd === 1 ? streams.out : streams.err).push(...data);
      else if (sink.kind === 'file') sink.data.push(...data);
    }
    for (const sink of new Set(Object.values(sinks))) {
      if (sink.kind === 'file') await this.o.handler.writeFile?.(sink.path, Buffer.concat(sink.data));
    }
    return code;
  }

  private async simple(raw: string, streams: Streams, stdin: Buffer): Promise<number> {
    let text = raw.replace(/^[ \t,;=@]+/, '');
    if (this.delayed) text = expandDelayed(text, this.lookup);
    if (!text.trim()) return this.errorlevel;
    const { name, end } = commandToken(text);
    const builtin = name.toLowerCase();
    if (!/[\\/:.]/.test(name) && BUILTINS.has(builtin)) return this.builtin(builtin, text.slice(end), streams);
    const program = this.windows.resolve(name, this.profile);
    if (!program) {
      streams.write(2, NOT_RECOGNIZED(name));
      return 9009;
    }
    return this.start(program, text, streams, stdin);
  }

  private builtin(name: string, rest: string, streams: Streams): number {
    switch (name) {
      case 'echo':
        streams.write(1, rest.trim() ? `${rest.slice(1)}\r\n` : 'ECHO is on.\r\n');
        return 0;
      case 'rem':
        return 0;
      case 'ver':
        streams.write(1, '\r\nMicrosoft Windows [Version 10.0.19045.5247]\r\n');
        return 0;
      case 'cd':
      case 'chdir':
        if (rest.trim()) break;
        streams.write(1, `${this.profile}\r\n`);
        return 0;
      case 'exit': {
        const m = /^\s*(?:\/b\b)?\s*(-?\d+)?/i.exec(rest)!;
        this.exited = true;
        return m[1] === undefined ? this.errorlevel : Number(m[1]);
      }
    }
    streams.write(2, unsupported(`the cmd.exe command '${name}'${rest.trim() ? ' with arguments' : ''}`));
    return 1;
  }

  private async start(program: Program, programLine: string, streams: Streams, stdin: Buffer): Promise<number> {
    const argv = ucrtArgv(programLine);
    const request = (args: string[], via: 'cmd' | 'powershell' = 'cmd', powershell?: string): CommandRequest => ({
      commandLine: this.winrsLine,
      command: program.path,
      programLine,
      argv,
      args,
      via,
      user: this.session.user,
      ...(powershell === undefined ? {} : { powershell }),
    });
    switch (program.kind) {
      case 'labstation': {
        const { args, scriptMode } = ahkArgs(argv.slice(1));
        const req = request(args);
        this.o.record(req);
        if (scriptMode) {
          streams.write(2, unsupported('LabStation.exe /script (the AutoHotkey script host)'));
          return 1;
        }
        let r: CommandResult;
        try {
          r = await this.o.handler.run(req, { signal: this.signal });
        } catch (e) {
          r = { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`${(e as Error).message}\r\n`) };
        }
        streams.write(1, r.stdout);
        streams.write(2, r.stderr);
        return r.exitCode;
      }
      case 'cmd':
        return this.nestedCmd(programLine, streams, stdin, request(argv.slice(1)));
      case 'powershell': {
        const inv = parsePowerShellArgs(programLine);
        this.o.record(request(argv.slice(1), 'powershell', 'script' in inv ? inv.script : undefined));
        await this.o.handler.powershellStartup?.(this.signal);
        if ('error' in inv) {
          streams.write(2, `${inv.error}\r\n`);
          return 1;
        }
        if ('unsupported' in inv) {
          streams.write(2, unsupported(`powershell.exe with ${inv.unsupported}`));
          return 1;
        }
        const r = await runPowerShellScript(inv.script, this.o.handler, this.session.codepage);
        streams.write(1, r.stdout);
        streams.write(2, r.stderr);
        return r.exitCode;
      }
      case 'hostname':
        this.o.record(request(argv.slice(1)));
        streams.write(1, `${this.o.computerName}\r\n`);
        return 0;
      case 'whoami':
        this.o.record(request(argv.slice(1)));
        streams.write(1, `${this.o.computerName.toLowerCase()}\\${userNameOf(this.session.user).toLowerCase()}\r\n`);
        return 0;
      case 'gui':
        // cmd /c waits for it; a GUI program writes nothing to the console
        this.o.record(request(argv.slice(1)));
        return 0;
      case 'not-simulated':
        this.o.record(request(argv.slice(1)));
        streams.write(2, unsupported(program.path));
        return 1;
    }
  }

  /** `cmd [/s] [/d] [/q] [/e:on|off] [/v:on|off] /c <line>`: a child cmd.exe with a copy of this environment. */
  private async nestedCmd(programLine: string, streams: Streams, stdin: Buffer, req: CommandRequest): Promise<number> {
    this.o.record(req);
    const after = programLine.slice(commandToken(programLine).end);
    const sw = { s: false, delayed: false };
    let i = 0;
    for (;;) {
      while (after[i] === ' ' || after[i] === '\t') i++;
      const m = /^\/([a-z])(?::(\w*))?/i.exec(after.slice(i));
      if (!m) break;
      const letter = m[1]!.toLowerCase();
      if (letter === 'c' || letter === 'k') {
        const child = new CmdProcess(this.windows, this.o, this.session, this.winrsLine, new Map(this.env), this.signal);
        return child.runSlashC(after.slice(i + 2), sw, streams, stdin);
      }
      if (letter === 's') sw.s = true;
      if (letter === 'v') sw.delayed = (m[2] ?? '').toLowerCase() === 'on';
      i += m[0].length;
    }
    streams.write(2, unsupported('an interactive cmd.exe (no /c)'));
    return 1;
  }
}
