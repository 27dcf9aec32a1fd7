// Station faults (`labops sim --station-fault <stations>:<fault>[=<value>]`): states a real lab PC gets into that
// labops must cope with. They are states, not events: the set given replaces the previous one, and clearing a fault
// restores the station (its listener back, its password back, its heartbeat written again, the local user logged off).
import { SimSpecError } from './faults.js';
import { parseDuration } from '../domain/duration.js';
import type { SimStation } from './station.js';
import type { SimWinRMServer } from './winrm/server.js';
import type { HeartbeatFault } from './labstation/index.js';

export const STATION_FAULTS = ['boot-delay', 'winrm-down', 'wrong-credentials', 'heartbeat-missing', 'heartbeat-stale', 'heartbeat-corrupt', 'local-user', 'local-mode'] as const;
export type StationFaultKind = (typeof STATION_FAULTS)[number];

export interface StationFault {
  spec: string;
  /** all, a station name, a station number (1-based) or a range of numbers a-b */
  selector: string;
  kind: StationFaultKind;
  /** boot-delay: the delay; local-user: the user name */
  value?: string;
  ms?: number;
}

/** `sim-ws-003:winrm-down`, `1-5:heartbeat-stale`, `all:local-user=teacher`, `2:boot-delay=30s`. */
export function parseStationFault(spec: string, option = '--station-fault'): StationFault {
  const s = spec.trim();
  const colon = s.lastIndexOf(':');
  if (colon <= 0) throw new SimSpecError(option, spec, 'expected <stations>:<fault>[=<value>] with stations all, a name, a number or a range like 2-5');
  const selector = s.slice(0, colon);
  const [kind, value] = s.slice(colon + 1).split('=', 2) as [string, string | undefined];
  if (!(STATION_FAULTS as readonly string[]).includes(kind)) throw new SimSpecError(option, spec, `unknown station fault '${kind}' (known: ${STATION_FAULTS.join(', ')})`);
  if (/^\d+-\d+$/.test(selector) && Number(selector.split('-')[0]) > Number(selector.split('-')[1])) throw new SimSpecError(option, spec, `the range ${selector} runs backwards`);
  const f: StationFault = { spec: s, selector, kind: kind as StationFaultKind };
  if (kind === 'boot-delay') {
    const ms = parseDuration(value ?? '');
    if (ms === undefined) throw new SimSpecError(option, spec, `boot-delay: expected a duration like 30s, got '${value ?? ''}'`);
    f.ms = ms;
  } else if (kind === 'local-user') {
    f.value = value || 'teacher';
    if (!/^[\w.-]{1,20}$/.test(f.value)) throw new SimSpecError(option, spec, `local-user: '${f.value}' is not a Windows user name`);
  } else if (value !== undefined) {
    throw new SimSpecError(option, spec, `${kind} takes no value`);
  }
  return f;
}

/** The stations a selector names; an unknown name or a number past the fleet is an error naming the option. */
export function selectStations(f: StationFault, stations: readonly SimStation[], option = '--station-fault'): SimStation[] {
  if (f.selector === 'all') return [...stations];
  const range = /^(\d+)(?:-(\d+))?$/.exec(f.selector);
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2] ?? range[1])];
    if (from < 1 || to > stations.length) throw new SimSpecError(option, f.spec, `stations ${f.selector}: the simulator runs stations 1-${stations.length}`);
    return stations.slice(from - 1, to);
  }
  const s = stations.find((x) => x.name.toLowerCase() === f.selector.toLowerCase());
  if (!s) throw new SimSpecError(option, f.spec, `no station named '${f.selector}'`);
  return [s];
}

interface Desired {
  bootDelayMs?: number;
  winrmDown: boolean;
  wrongCredentials: boolean;
  heartbeat?: HeartbeatFault;
  localUser?: string;
  localMode: boolean;
}

interface Applied extends Desired {
  /** the session of the local user this fault logged on */
  sessionId?: number;
}

const HEALTHY: Desired = { winrmDown: false, wrongCredentials: false, localMode: false };

/** Holds the station faults in force and brings each station to the state they describe. */
export class StationFaults {
  private faults: StationFault[] = [];
  private readonly applied = new Map<string, Applied>();
  private readonly users = new Map<string, Record<string, string>>();

  constructor(
    private readonly stations: readonly SimStation[],
    private readonly servers: ReadonlyMap<string, SimWinRMServer>,
  ) {
    for (const s of stations) {
      this.applied.set(s.name, { ...HEALTHY });
      const server = servers.get(s.name);
      if (server) this.users.set(s.name, server.users);
      // a reboot logs everyone off: the local user logs on again once the station runs
      s.runtime?.onPower((state) => {
        if (state === 'on') this.localUser(s, this.desired(s));
      });
    }
  }

  get current(): readonly StationFault[] {
    return this.faults;
  }

  /** Checks every selector first (nothing changes on an error), then replaces the faults in force. */
  async set(faults: readonly StationFault[], option = '--station-fault'): Promise<void> {
    for (const f of faults) selectStations(f, this.stations, option);
    this.faults = [...faults];
    for (const s of this.stations) await this.reconcile(s);
  }

  private desired(s: SimStation): Desired {
    const d: Desired = { ...HEALTHY };
    for (const f of this.faults) {
      if (!selectStations(f, this.stations).includes(s)) continue;
      if (f.kind === 'boot-delay') d.bootDelayMs = f.ms;
      else if (f.kind === 'winrm-down') d.winrmDown = true;
      else if (f.kind === 'wrong-credentials') d.wrongCredentials = true;
      else if (f.kind === 'local-user') d.localUser = f.value;
      else if (f.kind === 'local-mode') d.localMode = true;
      else d.heartbeat = f.kind.slice('heartbeat-'.length) as HeartbeatFault;
    }
    return d;
  }

  private async reconcile(s: SimStation): Promise<void> {
    const d = this.desired(s);
    const a = this.applied.get(s.name)!;
    s.bootDelayMs = d.bootDelayMs ?? s.spec.bootDelayMs;
    if (d.winrmDown !== a.winrmDown) {
      // a stopped WinRM service: the station's own status shows it, and its ports refuse connections
      s.runtime?.machine.updateConfig((c) => (c.winrm = { ...c.winrm, serviceRunning: !d.winrmDown }));
      await s.setListenerDown(d.winrmDown);
    }
    const server = this.servers.get(s.name);
    if (server && d.wrongCredentials !== a.wrongCredentials) {
      const users = this.users.get(s.name)!;
      // the account's password was changed on the station: the fleet's credentials no longer work
      server.setUsers(d.wrongCredentials ? Object.fromEntries(Object.keys(users).map((u) => [u, `${users[u]}-changed-on-the-station`])) : users);
    }
    if (s.runtime && d.heartbeat !== a.heartbeat) s.runtime.heartbeatFault = d.heartbeat;
    if (s.runtime && d.localMode !== a.localMode) s.runtime.machine.setLocalMode(d.localMode);
    Object.assign(a, { ...d, localUser: a.localUser, sessionId: a.sessionId });
    this.localUser(s, d);
  }

  /** Logs the fault's local user on (a console user besides the lab user) or off, as far as the station runs. */
  private localUser(s: SimStation, d: Desired): void {
    const a = this.applied.get(s.name)!;
    const m = s.runtime?.machine;
    if (!m || m.power !== 'on') return;
    const present = a.sessionId !== undefined && m.sessions.some((x) => x.id === a.sessionId && x.user === a.localUser);
    if (present && a.localUser === d.localUser) return;
    if (present) m.logoff(a.sessionId!);
    a.sessionId = d.localUser ? m.logon(d.localUser) : undefined;
    a.localUser = d.localUser;
  }
}
