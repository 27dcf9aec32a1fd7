// LabStation.exe 3.2.0 as a state machine (reference NOTES §4): the commands the Lab Gateway runs over
// WinRM, with their exit codes and headless stdout lines, acting on simulated sessions, power and
// service-state.ini. Everything time-related runs on an injected SimClock.
//
// Texts marked "(inferred)" are not documented upstream (help text, usage lines, messages of commands
// outside the Gateway's allow-list); everything else is the documented 3.2.0 behaviour.
import { IniDocument } from './ini.js';
import type { SimClock, SimTimer } from './clock.js';
import { toStationJson } from './serializer.js';
import {
  buildHeartbeat,
  buildOperations,
  buildStatus,
  defaultStationConfig,
  stationTimestamp,
  summaryIssues,
  wakeReadiness,
  winrmReady,
  type StationConfig,
  type StationSession,
} from './status.js';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type PowerState = 'on' | 'off' | 'hibernated' | 'booting';
export type PowerCause = 'shutdown' | 'hibernate' | 'reboot' | 'boot' | 'power-on' | 'resume';

/** The station cannot run a command: it is off, hibernated or booting, or went down while the command ran. */
export class StationUnavailableError extends Error {
  constructor(
    readonly station: string,
    readonly power: PowerState,
    message: string,
  ) {
    super(message);
    this.name = 'StationUnavailableError';
  }
}

export interface ForcedLogoffEvent {
  force: boolean;
  grace: number;
  message: string;
  /** a string in the JSONL file */
  sessionId: string;
  source: 'session-guard';
  state: string;
  timestamp: string;
  user: string;
}

/** A `msg <id> /time:<grace> "<message>"` the guard sent. */
export interface GuardNotice {
  sessionId: number;
  user: string;
  message: string;
  seconds: number;
  at: number;
}

export type WorkKind = 'prepare' | 'release' | 'power' | 'recovery' | 'status';

export interface LabStationMachineOptions {
  clock: SimClock;
  /** inventory name, used in errors */
  name?: string;
  config?: Partial<StationConfig>;
  /** service-state.ini as persisted from an earlier run */
  ini?: IniDocument;
  /** initial power; 'on' logs LABUSER on at the console when autologon is enabled */
  power?: 'on' | 'off';
  /** simulated ms a station-initiated reboot stays down before it is running again */
  bootDelayMs?: number;
  /** simulated ms between a shutdown timer expiring and the host actually going down (Windows closing apps) */
  shutdownMs?: number;
  /** simulated ms each command spends on its own work (taskkill, profile cleanup, …), added to durationMs */
  workMs?: Partial<Record<WorkKind, number>>;
  /** simulated ms a status collection takes: heartbeat.timestamp comes this long after status.timestamp */
  collectionMs?: number;
  /** `shutdown /r /t 0` takes the host down before LabStation.exe can answer (NOTES §5.9 item 8) */
  cutOffImmediateReboot?: boolean;
  /** make an external step fail, to reach the documented exit-1 paths */
  faults?: { logoff?: boolean; taskkill?: boolean; shutdown?: boolean };
  /** local-mode.flag: existence check and (GUI toggle) write; in memory when not given */
  localModeFlag?: { exists(): boolean; set(on: boolean): void };
  /** write a file for `status-json <path>` / `diagnostics [path]`; returns false on a write error */
  writeFile?: (windowsPath: string, bytes: Buffer) => boolean;
  /** heartbeat/status shape options (older Lab Station builds) */
  withoutReady?: boolean;
  withoutSchemaVersion?: boolean;
  onPowerOff?: (state: 'off' | 'hibernated', cause: PowerCause) => void;
  onReboot?: () => void;
  onPowerOn?: (cause: PowerCause) => void;
}

type Listener<A extends unknown[]> = (...args: A) => void;

interface Events {
  /** anything the heartbeat shows changed */
  change: [reason: string];
  /** service-state.ini was written */
  ini: [];
  'forced-logoff': [event: ForcedLogoffEvent];
  power: [state: PowerState, cause: PowerCause];
}

const DEFAULT_WORK: Record<WorkKind, number> = { prepare: 1500, release: 1200, power: 300, recovery: 800, status: 0 };

export const LABSTATION_ROOT = 'C:\\LabStation';
export const DATA_ROOT = 'C:\\LabStation\\labstation\\data';

export const MESSAGES = {
  prepareOk: 'Session prepared successfully',
  prepareWarn: 'Prepare-session finished with warnings (see log)',
  releaseOk: 'Session released successfully',
  releaseWarn: 'Release-session finished with warnings (see log)',
  guardOk: 'Local sessions cleared',
  guardWarn: 'Session guard finished with warnings (see log)',
  unknownSession: 'Unknown session subcommand',
  powerOk: 'Power action scheduled',
  powerFail: 'Power action failed (see log)',
  unknownPower: 'Unknown power subcommand',
  healthy: 'Healthy state detected; reboot skipped',
  rebootFail: 'Unable to schedule safeguard reboot',
} as const;

// (inferred) usage and help texts: upstream prints its own, not recorded in the reference.
export const HELP_TEXT = [
  'Usage: LabStation.exe <command> [options]',
  'Commands:',
  '  prepare-session [--user=<name>] [--guard|--no-guard] [--guard-grace=<s>] [--guard-message=<text>] [--guard-silent]',
  '  release-session [--user=<name>] [--reboot] [--reboot-timeout=<s>]',
  '  session guard [--grace=<s>] [--user=<name>] [--message=<text>] [--silent] [--soft]',
  '  power shutdown|hibernate [--delay=<s>] [--reason=<text>] [--no-force] [--skip-wake-check] [--require-wake] [--repair-wake=no]',
  '  status-json [path]',
  '  recovery reboot-if-needed [--force] [--timeout=<s>] [--user=<name>] [--reason=<text>]',
  '  status | diagnostics [path] | service install|uninstall|start|stop|status | wol | remoteapp | autostart [path]',
  '  winrm configure|status | account create|autologon|lockdown|setup | energy audit [--json=path]',
  '  fmu-executor start|stop|restart|status | service-loop | gui | tray | setup | launch-app-control',
].join('\n');
const USAGE_SESSION = 'Usage: LabStation.exe session guard [--grace=<s>] [--user=<name>] [--message=<text>] [--silent] [--soft]';
const USAGE_POWER = 'Usage: LabStation.exe power shutdown|hibernate [--delay=<s>] [--reason=<text>] [--no-force] [--skip-wake-check] [--require-wake] [--repair-wake=no]';
const USAGE_RECOVERY = 'Usage: LabStation.exe recovery reboot-if-needed [--force] [--timeout=<s>] [--user=<name>] [--reason=<text>]';

export function guardMessage(grace: number): string {
  return `A remote lab reservation is about to start. Your session will close in ${grace} seconds.`;
}

/** Flags are compared in lower case, values keep their case; bare words are kept apart. */
export class ParsedArgs {
  readonly flags = new Map<string, string | true>();
  readonly words: string[] = [];

  constructor(args: string[]) {
    for (const a of args) {
      if (a.startsWith('--')) {
        const eq = a.indexOf('=');
        if (eq < 0) this.flags.set(a.slice(2).toLowerCase(), true);
        else this.flags.set(a.slice(2, eq).toLowerCase(), a.slice(eq + 1));
      } else this.words.push(a);
    }
  }

  has(name: string): boolean {
    return this.flags.has(name);
  }

  str(name: string, fallback = ''): string {
    const v = this.flags.get(name);
    return typeof v === 'string' ? v : fallback;
  }

  /** an integer flag; a missing or non-numeric value gives the default (inferred for non-numeric) */
  int(name: string, fallback: number): number {
    const v = this.flags.get(name);
    if (typeof v !== 'string' || !/^\s*-?\d+\s*$/.test(v)) return fallback;
    return Number.parseInt(v, 10);
  }

  /** --x → true, --x=yes|true|1|on → true, --x=no|false|0|off → false, absent → undefined */
  bool(name: string): boolean | undefined {
    const v = this.flags.get(name);
    if (v === undefined) return undefined;
    if (v === true) return true;
    const l = v.trim().toLowerCase();
    if (['no', 'false', '0', 'off'].includes(l)) return false;
    return true;
  }

  word(name: string): boolean {
    return this.words.some((w) => w.toLowerCase() === name);
  }
}

function ok(message: string, code = 0): ExecResult {
  return { exitCode: code, stdout: `${message}\n`, stderr: '' };
}

interface PendingPower {
  kind: 'shutdown' | 'hibernate' | 'reboot';
  timer: SimTimer;
}

export class LabStationMachine {
  readonly clock: SimClock;
  readonly name: string;
  config: StationConfig;
  readonly ini: IniDocument;
  /** every argv execute() received, as received */
  readonly receivedArgv: string[][] = [];
  /** messages the session guard sent with `msg` */
  readonly notices: GuardNotice[] = [];
  /** every forced logoff, in order (also appended to the JSONL file by the runtime) */
  readonly forcedLogoffs: ForcedLogoffEvent[] = [];
  private sessionList: StationSession[] = [];
  private nextSessionId = 1;
  private powerState: PowerState = 'off';
  private pendingPower: PendingPower | undefined;
  private bootTimer: SimTimer | undefined;
  private readonly running = new Set<AbortController>();
  private readonly listeners: { [K in keyof Events]: Set<Listener<Events[K]>> } = {
    change: new Set(),
    ini: new Set(),
    'forced-logoff': new Set(),
    power: new Set(),
  };
  private memLocalMode = false;
  private readonly work: Record<WorkKind, number>;
  /** what the wake check saw at the last power-down: does a magic packet bring the host back? */
  private wakeArmedAtPowerOff = true;

  constructor(private readonly o: LabStationMachineOptions) {
    this.clock = o.clock;
    this.name = o.name ?? 'station';
    this.config = defaultStationConfig(o.config);
    this.ini = o.ini ?? new IniDocument();
    this.work = { ...DEFAULT_WORK, ...o.workMs };
    if ((o.power ?? 'on') === 'on') this.bootComplete('boot', false);
  }

  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  private emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const fn of this.listeners[event]) fn(...args);
  }

  // ---- state --------------------------------------------------------------------------------

  get power(): PowerState {
    return this.powerState;
  }

  get sessions(): readonly StationSession[] {
    return this.sessionList;
  }

  get localModeEnabled(): boolean {
    return this.o.localModeFlag ? this.o.localModeFlag.exists() : this.memLocalMode;
  }

  /** The GUI's local-mode toggle (or the Gateway writing/removing local-mode.flag). */
  setLocalMode(on: boolean): void {
    if (this.o.localModeFlag) this.o.localModeFlag.set(on);
    else this.memLocalMode = on;
    this.emit('change', 'local-mode');
  }

  /** local-mode.flag was written or removed behind the machine's back (the Gateway over WinRM, a file share). */
  localModeChanged(): void {
    this.emit('change', 'local-mode');
  }

  /** operations.* as the heartbeat shows them (read back from service-state.ini) */
  operations(): Record<string, unknown> {
    return buildOperations(this.ini);
  }

  /** A pending shutdown, hibernate or reboot, if any. */
  get scheduledPowerAction(): { kind: 'shutdown' | 'hibernate' | 'reboot'; at: number } | undefined {
    return this.pendingPower && { kind: this.pendingPower.kind, at: this.pendingPower.timer.at };
  }

  /** Would a magic packet wake the host now? Needs a wake-armed device and Wake on Magic Packet on a NIC. */
  get wakeOnLanWorks(): boolean {
    return this.powerState === 'on' ? this.wolConfigured() : this.wakeArmedAtPowerOff;
  }

  private wolConfigured(): boolean {
    return this.config.armedDevices.length > 0 && this.config.nics.some((n) => n.wakeOnMagicPacket === 'Enabled');
  }

  /** Change hardware or policy state (a NIC setting drifting, a sleep timeout set, …). */
  updateConfig(patch: Partial<StationConfig> | ((c: StationConfig) => void)): void {
    if (typeof patch === 'function') patch(this.config);
    else this.config = { ...this.config, ...patch };
    this.emit('change', 'config');
  }

  /** A user logs on (a local user at the console, or over RDP). Returns the session id. */
  logon(user: string, opts: { sessionName?: string; state?: StationSession['state'] } = {}): number {
    this.requireOn();
    const id = this.nextSessionId++;
    const used = new Set(this.sessionList.map((s) => s.sessionName));
    let sessionName = opts.sessionName;
    if (sessionName === undefined) {
      sessionName = used.has('console') ? `rdp-tcp#${id}` : 'console';
    }
    this.sessionList.push({ id, user, sessionName, state: opts.state ?? 'Active', idle: 'none', logonAt: this.clock.now() });
    this.emit('change', 'logon');
    return id;
  }

  /** The user logs off by themselves. */
  logoff(sessionId: number): boolean {
    const i = this.sessionList.findIndex((s) => s.id === sessionId);
    if (i < 0) return false;
    this.sessionList.splice(i, 1);
    this.emit('change', 'logoff');
    return true;
  }

  /** The session disconnects (quser then shows it without a session name). */
  disconnect(sessionId: number, idle = '1'): void {
    const s = this.sessionList.find((x) => x.id === sessionId);
    if (!s) return;
    s.state = 'Disc';
    s.sessionName = '';
    s.idle = idle;
    this.emit('change', 'disconnect');
  }

  // ---- power --------------------------------------------------------------------------------

  /** Power button or magic packet (the network side has already waited out the boot). */
  powerOn(): void {
    if (this.powerState === 'on') return;
    this.bootTimer?.cancel();
    this.bootTimer = undefined;
    const resume = this.powerState === 'hibernated';
    this.bootComplete(resume ? 'resume' : 'power-on', resume);
  }

  /** Pull the plug: off at once, no files written. */
  powerCut(): void {
    if (this.powerState === 'off') return;
    this.goDown('shutdown');
  }

  private bootComplete(cause: PowerCause, resume: boolean): void {
    this.powerState = 'on';
    if (!resume) {
      this.sessionList = [];
      this.nextSessionId = 1;
      // AutoAdminLogon puts the lab user on the console at every boot
      if (this.config.autoLogon.enabled && this.config.labUserExists) {
        this.sessionList.push({ id: this.nextSessionId++, user: this.config.autoLogon.user || this.config.labUser, sessionName: 'console', state: 'Active', idle: 'none', logonAt: this.clock.now() });
      }
    }
    this.emit('power', 'on', cause);
    this.o.onPowerOn?.(cause);
    this.emit('change', 'power-on');
  }

  private schedulePower(kind: PendingPower['kind'], delaySeconds: number): boolean {
    if (this.o.faults?.shutdown) return false;
    // shutdown.exe refuses a second pending shutdown ("A system shutdown has already been scheduled")
    if (this.pendingPower) return false;
    const at = this.clock.now() + delaySeconds * 1000 + (this.o.shutdownMs ?? 5000);
    this.pendingPower = { kind, timer: this.clock.schedule(at, () => this.goDown(kind)) };
    return true;
  }

  private goDown(kind: PendingPower['kind']): void {
    this.pendingPower?.timer.cancel();
    this.pendingPower = undefined;
    this.wakeArmedAtPowerOff = this.wolConfigured();
    const state: PowerState = kind === 'hibernate' ? 'hibernated' : 'off';
    this.powerState = state;
    if (kind !== 'hibernate') this.sessionList = [];
    for (const ac of this.running) ac.abort(new StationUnavailableError(this.name, state, `${this.name} went down (${kind}) while the command ran`));
    this.running.clear();
    this.emit('power', state, kind);
    if (kind === 'reboot') {
      this.o.onReboot?.();
      this.powerState = 'booting';
      this.emit('power', 'booting', 'reboot');
      this.bootTimer = this.clock.schedule(this.clock.now() + (this.o.bootDelayMs ?? 2000), () => {
        this.bootTimer = undefined;
        this.bootComplete('boot', false);
      });
    } else {
      this.o.onPowerOff?.(state as 'off' | 'hibernated', kind);
    }
  }

  /** Cancel timers (the simulator is stopping). */
  close(): void {
    this.pendingPower?.timer.cancel();
    this.bootTimer?.cancel();
    for (const ac of this.running) ac.abort(new StationUnavailableError(this.name, this.powerState, `${this.name}: simulator stopped`));
    this.running.clear();
  }

  private requireOn(): void {
    if (this.powerState !== 'on') throw new StationUnavailableError(this.name, this.powerState, `${this.name} is ${this.powerState}`);
  }

  // ---- status -------------------------------------------------------------------------------

  /** LS_Status.Collect() at `collectedAt` (default now). */
  status(collectedAt = this.clock.now()): Record<string, unknown> {
    return buildStatus({
      config: this.config,
      sessions: this.sessionList,
      ini: this.ini,
      localModeEnabled: this.localModeEnabled,
      collectedAt,
      withoutReady: this.o.withoutReady,
      withoutSchemaVersion: this.o.withoutSchemaVersion,
    });
  }

  /** LS_Telemetry.BuildPayload(): built now, around a status collected collectionMs earlier. */
  heartbeat(): Record<string, unknown> {
    const now = this.clock.now();
    const status = this.status(now - (this.o.collectionMs ?? 0));
    return buildHeartbeat(status, this.config, now, this.o.withoutSchemaVersion);
  }

  // ---- commands -----------------------------------------------------------------------------

  /**
   * Run `LabStation.exe <argv>` headless (as under WinRM). Resolves when the process would exit, which for a
   * guard with grace is after the grace on the simulated clock. Rejects with StationUnavailableError when
   * the station is not running or goes down before the command finishes.
   */
  async execute(argv: string[]): Promise<ExecResult> {
    this.receivedArgv.push([...argv]);
    this.requireOn();
    const ac = new AbortController();
    this.running.add(ac);
    try {
      return await this.dispatch(argv, ac.signal);
    } finally {
      this.running.delete(ac);
    }
  }

  private async dispatch(argv: string[], signal: AbortSignal): Promise<ExecResult> {
    if (argv.length === 0) return { exitCode: 0, stdout: '', stderr: '' };
    const command = argv[0]!.toLowerCase();
    const args = new ParsedArgs(argv.slice(1));
    switch (command) {
      case 'prepare-session':
        return this.prepareSession(args, signal);
      case 'release-session':
        return this.releaseSession(args, signal);
      case 'session':
        return this.sessionCommand(args, signal);
      case 'power':
        return this.powerCommand(args, signal);
      case 'status-json':
        return this.statusJson(args);
      case 'recovery':
        return this.recovery(args, signal);
      case 'status':
        return this.statusText();
      case 'diagnostics':
        return this.diagnostics(args);
      default:
        return this.otherCommand(command, args);
    }
  }

  private async doWork(kind: WorkKind, signal: AbortSignal): Promise<void> {
    const ms = this.work[kind];
    if (ms > 0) await this.clock.sleep(ms, signal);
  }

  private writeIni(section: string, values: Record<string, string | number | boolean | undefined>): void {
    this.ini.writeSection(section, { ...values, timestamp: stationTimestamp(this.clock.now()) });
    this.emit('ini');
    this.emit('change', section);
  }

  /** LS_SessionGuard: notify, wait the grace, force every other active session off. */
  private async runGuard(g: { keep: string; grace: number; message: string; notify: boolean; soft: boolean }, signal: AbortSignal): Promise<boolean> {
    const keep = g.keep.toLowerCase();
    const targets = this.sessionList.filter((s) => s.user.toLowerCase() !== keep && s.state !== 'Disc' && s.state !== 'Down').map((s) => ({ ...s }));
    if (targets.length === 0) return true;
    if (g.notify) {
      for (const t of targets) this.notices.push({ sessionId: t.id, user: t.user, message: g.message.replaceAll('"', "'"), seconds: g.grace, at: this.clock.now() });
    }
    await this.clock.sleep(g.grace * 1000, signal);
    let allOk = true;
    for (const t of targets) {
      const live = this.sessionList.find((s) => s.id === t.id && s.logonAt === t.logonAt);
      // logoff <id> fails when the user already left (or the fault is injected); no line is written then
      if (!live || this.o.faults?.logoff) {
        allOk = false;
        continue;
      }
      this.sessionList.splice(this.sessionList.indexOf(live), 1);
      const timestamp = stationTimestamp(this.clock.now());
      const user = t.user.toLowerCase();
      const event: ForcedLogoffEvent = { force: !g.soft, grace: g.grace, message: g.message, sessionId: String(t.id), source: 'session-guard', state: t.state, timestamp, user };
      this.writeIni('forced-logoff', { grace: g.grace, message: g.message, sessionId: t.id, source: 'session-guard', state: t.state, success: true, user });
      this.forcedLogoffs.push(event);
      this.emit('forced-logoff', event);
    }
    return allOk;
  }

  private async prepareSession(a: ParsedArgs, signal: AbortSignal): Promise<ExecResult> {
    const start = this.clock.now();
    const user = a.str('user');
    let guard = true;
    if (a.has('guard')) guard = a.bool('guard') !== false;
    if (a.has('no-guard')) guard = false;
    const grace = Math.max(30, a.int('guard-grace', 90));
    const message = a.str('guard-message') || guardMessage(grace);
    let notify = true;
    if (a.has('guard-notify')) notify = a.bool('guard-notify') !== false;
    if (a.has('guard-silent')) notify = false;
    // --reboot / --reboot-timeout are parsed by prepare-session but ignored
    let success = true;
    if (guard) success = (await this.runGuard({ keep: user || this.config.labUser, grace, message, notify, soft: false }, signal)) && success;
    if (this.o.faults?.taskkill) success = false;
    await this.doWork('prepare', signal);
    this.writeIni('prepare-session', { durationMs: this.clock.now() - start, success, user });
    return success ? ok(MESSAGES.prepareOk) : ok(MESSAGES.prepareWarn, 1);
  }

  private async releaseSession(a: ParsedArgs, signal: AbortSignal): Promise<ExecResult> {
    const start = this.clock.now();
    const user = a.str('user');
    const timeoutGiven = a.has('reboot-timeout');
    const reboot = a.has('reboot') || a.word('reboot') || timeoutGiven;
    // with only --reboot the timeout is 0: shutdown /r /t 0 /f at once (the docs claim 15 s)
    const rebootTimeout = Math.max(0, a.int('reboot-timeout', 0));
    let success = !this.o.faults?.taskkill;
    const target = (user || this.config.labUser).toLowerCase();
    const session = this.sessionList.find((s) => s.user.toLowerCase() === target);
    if (!session || this.o.faults?.logoff) success = false;
    else this.sessionList.splice(this.sessionList.indexOf(session), 1);
    await this.doWork('release', signal);
    let cutOff = false;
    if (reboot) {
      if (!this.schedulePower('reboot', rebootTimeout)) success = false;
      else cutOff = rebootTimeout === 0 && !!this.o.cutOffImmediateReboot;
    }
    this.writeIni('release-session', {
      durationMs: this.clock.now() - start,
      rebootRequested: reboot ? true : undefined,
      rebootTimeout: timeoutGiven ? rebootTimeout : undefined,
      success,
      user,
    });
    if (cutOff) {
      this.goDown('reboot');
      throw new StationUnavailableError(this.name, this.powerState, `${this.name} rebooted (shutdown /r /t 0) before release-session could answer`);
    }
    return success ? ok(MESSAGES.releaseOk) : ok(MESSAGES.releaseWarn, 1);
  }

  private async sessionCommand(a: ParsedArgs, signal: AbortSignal): Promise<ExecResult> {
    const sub = a.words[0];
    if (sub === undefined) return ok(USAGE_SESSION, 2);
    if (sub.toLowerCase() !== 'guard') return ok(MESSAGES.unknownSession, 2);
    // --guard-grace and --guard-silent are not recognised here (upstream quirk): they are ignored
    const grace = Math.max(30, a.int('grace', 120));
    const message = a.str('message') || guardMessage(grace);
    const notify = !(a.has('silent') || a.has('no-notify'));
    const cleared = await this.runGuard({ keep: a.str('user') || this.config.labUser, grace, message, notify, soft: a.has('soft') }, signal);
    return cleared ? ok(MESSAGES.guardOk) : ok(MESSAGES.guardWarn, 1);
  }

  private async powerCommand(a: ParsedArgs, signal: AbortSignal): Promise<ExecResult> {
    const sub = a.words[0];
    if (sub === undefined) return ok(USAGE_POWER, 2);
    const mode = sub.toLowerCase();
    if (mode !== 'shutdown' && mode !== 'hibernate') return ok(MESSAGES.unknownPower, 2);
    const delay = Math.max(0, a.int('delay', 0));
    const reason = a.str('reason');
    let force = !(a.has('no-force') || a.has('soft'));
    if (a.has('force') && a.bool('force') !== false) force = true;
    const skipCheck = a.has('skip-wake-check');
    const requireWake = a.has('require-wake');
    let repair = true;
    if (a.has('repair-wake')) repair = a.bool('repair-wake') !== false;
    if (a.has('no-repair-wake')) repair = false;
    let wake = wakeReadiness(this.config);
    if (!skipCheck && !wake.ready && repair) {
      this.repairWake();
      wake = wakeReadiness(this.config);
    }
    let success = true;
    if (!skipCheck && requireWake && !wake.ready) success = false;
    await this.doWork('power', signal);
    if (success) success = this.schedulePower(mode, delay);
    this.writeIni('power-action', {
      delay,
      force,
      mode,
      reason: reason ? reason : undefined,
      success,
      wakeArmed: wake.armedCount,
      wakeIssues: wake.issues.length ? wake.issues.join('; ') : undefined,
      wakeReady: wake.ready,
    });
    return success ? ok(MESSAGES.powerOk) : ok(MESSAGES.powerFail, 1);
  }

  /** What `wol` and --repair-wake do: enable Wake on Magic Packet, disable the rest, arm the NIC. */
  private repairWake(): boolean {
    if (!this.config.wakeRepairable) return false;
    for (const n of this.config.nics) {
      n.wakeOnMagicPacket = 'Enabled';
      n.wakeOnPattern = 'Disabled';
      n.allowTurnOff = 'Disabled';
    }
    if (this.config.armedDevices.length === 0 && this.config.nics[0]) this.config.armedDevices = [this.config.nics[0].interfaceDescription];
    this.emit('change', 'wake-repair');
    return true;
  }

  private statusJson(a: ParsedArgs): ExecResult {
    const json = toStationJson(this.status());
    const path = a.words[0];
    if (path === undefined) return { exitCode: 0, stdout: json, stderr: '' };
    const full = resolveStationPath(path);
    const written = this.o.writeFile?.(full, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json, 'utf8')])) ?? false;
    return { exitCode: written ? 0 : 1, stdout: '', stderr: '' };
  }

  private diagnostics(a: ParsedArgs): ExecResult {
    const path = a.words[0] === undefined ? `${DATA_ROOT}\\status.json` : resolveStationPath(a.words[0]);
    const json = toStationJson(this.status());
    const written = this.o.writeFile?.(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json, 'utf8')])) ?? false;
    // (inferred) failure text
    return written ? ok(`Report saved to ${path}`) : ok(`Unable to save report to ${path}`, 1);
  }

  private async recovery(a: ParsedArgs, signal: AbortSignal): Promise<ExecResult> {
    const sub = a.words.find((w) => w.toLowerCase() !== 'force');
    if (sub === undefined) return ok(USAGE_RECOVERY, 2);
    if (sub.toLowerCase() !== 'reboot-if-needed') return ok('Unknown recovery subcommand', 2); // (inferred) text
    const force = (a.has('force') && a.bool('force') !== false) || a.word('force');
    const timeout = Math.max(0, a.int('timeout', 20));
    const custom = a.str('reason');
    const c = this.config;
    const reasons: string[] = [];
    const issues = summaryIssues(c);
    if (force) reasons.push('forced-by-backend');
    else {
      if (custom) reasons.push(custom);
      if (issues.length) reasons.push('status-needs-action');
      const lab = c.labUser.toLowerCase();
      if (this.sessionList.some((s) => s.user.toLowerCase() !== lab)) reasons.push('other-users-active');
      if (!c.remoteAppEnabled) reasons.push('remoteapp-disabled');
      if (!c.autoStartConfigured) reasons.push('autostart-missing');
      if (c.profile === 'server') {
        if (!c.autoLogon.enabled) reasons.push('autologon-disabled');
        const members = c.remoteDesktopUsers.map((m) => m.toLowerCase());
        if (!members.includes(lab) || members.some((m) => m !== lab)) reasons.push('remote-desktop-users-drift');
      }
    }
    if (reasons.length === 0) {
      this.writeIni('safeguard-reboot', { message: MESSAGES.healthy, reason: 'healthy', rebooted: false, success: true });
      return ok(MESSAGES.healthy);
    }
    const joined = reasons.join(', ');
    const target = (a.str('user') || c.labUser).toLowerCase();
    const labSession = this.sessionList.find((s) => s.user.toLowerCase() === target);
    if (labSession) this.sessionList.splice(this.sessionList.indexOf(labSession), 1);
    await this.doWork('recovery', signal);
    const scheduled = this.schedulePower('reboot', timeout);
    const message = scheduled ? `Safeguard reboot scheduled (${joined})` : MESSAGES.rebootFail;
    this.writeIni('safeguard-reboot', { issues: issues.length ? issues.join('; ') : undefined, message, reason: joined, rebooted: scheduled, success: scheduled });
    return scheduled ? ok(message) : ok(message, 1);
  }

  private statusText(): ExecResult {
    const c = this.config;
    const issues = summaryIssues(c);
    const lines = [
      `State: ${issues.length ? 'needs-action' : 'ready'}`,
      `Issues: ${issues.length ? issues.join('; ') : 'none'}`,
      `RemoteApp: ${c.remoteAppEnabled ? 'OK' : 'MISSING'}`,
      `WinRM: ${winrmReady(c.winrm) ? 'OK' : 'MISSING'}`,
      `Profile: ${c.profile}`,
      `Autostart: ${c.autoStartConfigured ? 'OK' : 'MISSING'}`,
      `Wake-capable devices: ${c.programmableDevices.length}`,
      `Active power plan: ${c.power.activePlan}`,
    ];
    return ok(lines.join('\n'));
  }

  /** Commands outside the Gateway's allow-list: enough behaviour to be honest, texts (inferred). */
  private otherCommand(command: string, a: ParsedArgs): ExecResult {
    const sub = a.words[0]?.toLowerCase();
    switch (command) {
      case 'wol':
        return this.repairWake() ? ok('Wake-on-LAN configured') : ok('Wake-on-LAN configuration failed (see log)', 2);
      case 'remoteapp':
        this.updateConfig({ remoteAppEnabled: true });
        return ok('RemoteApp enabled');
      case 'autostart':
        this.updateConfig({ autoStartConfigured: true });
        return ok('Autostart configured');
      case 'winrm':
        if (sub === 'status') return winrmReady(this.config.winrm) ? ok('WinRM ready for Lab Gateway') : ok('WinRM not ready for Lab Gateway', 1);
        if (sub === 'configure') {
          // upstream prints a generated password here; the simulator prints none
          this.updateConfig((c) => {
            c.winrm = { ...c.winrm, serviceRunning: true, httpsListener: true, httpsPort: true, certificateConfigured: true, firewallEnabled: true, allowUnencrypted: false, negotiateAuth: true };
          });
          return ok('WinRM configured');
        }
        return ok(HELP_TEXT, 2);
      case 'service':
        if (sub === 'status') return ok('Folder: \\LabStation\nTaskName                                 Next Run Time          Status\n======================================== ====================== ===============\nBackgroundService                        N/A                    Running');
        if (sub && ['install', 'uninstall', 'start', 'stop'].includes(sub)) return ok(`Service ${sub} completed`);
        return ok(HELP_TEXT, 2);
      case 'energy':
        if (sub !== 'audit') return ok(HELP_TEXT, 2);
        return ok(`Energy audit: sleep ${this.config.power.sleepAc === 0 && this.config.power.sleepDc === 0 ? 'compliant' : 'not compliant'}, hibernate ${this.config.power.hibernateAc === 0 && this.config.power.hibernateDc === 0 ? 'compliant' : 'not compliant'}, wake-armed devices: ${this.config.armedDevices.length}`);
      case 'fmu-executor':
        if (sub === 'status') return this.config.fmu.running ? ok('FMU executor is running') : ok('FMU executor is not running', 1);
        if (sub === 'start' || sub === 'restart') {
          if (!this.config.fmu.available) return ok('FMU executor is not available', 1);
          this.updateConfig((c) => (c.fmu.running = true));
          return ok('FMU executor started');
        }
        if (sub === 'stop') {
          this.updateConfig((c) => (c.fmu.running = false));
          return ok('FMU executor stopped');
        }
        return ok(HELP_TEXT, 2);
      case 'account':
        if (!sub || !['create', 'autologon', 'lockdown', 'setup'].includes(sub)) return ok(HELP_TEXT, 2);
        return { exitCode: 1, stdout: '', stderr: `LabStation simulator: account ${sub} is not simulated\n` };
      case 'service-loop':
      case 'gui':
      case 'tray':
      case 'setup':
      case 'launch-app-control':
        return { exitCode: 1, stdout: '', stderr: `LabStation simulator: ${command} is interactive and not simulated\n` };
      default:
        return ok(HELP_TEXT, 2);
    }
  }
}

/** A path argument as LabStation.exe resolves it: relative paths against C:\LabStation. */
export function resolveStationPath(p: string): string {
  if (/^[a-zA-Z]:[\\/]/.test(p) || p.startsWith('\\\\')) return p;
  return `${LABSTATION_ROOT}\\${p.replace(/^[\\/]+/, '')}`;
}
