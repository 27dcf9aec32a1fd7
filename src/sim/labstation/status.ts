// The status document LS_Status.Collect() builds and the heartbeat payload LS_Telemetry.BuildPayload()
// wraps around it (reference NOTES §3.3). Values are plain JS; toStationJson adds the serializer quirks.
import type { IniDocument } from './ini.js';

export interface NicConfig {
  name: string;
  interfaceDescription: string;
  /** dash-separated upper case, as Get-NetAdapter prints it: 00-11-22-33-44-55 */
  macAddress: string;
  status: string;
  wakeOnMagicPacket: string;
  wakeOnPattern: string;
  allowTurnOff: string;
  deviceSleepOnDisconnect: string;
  advancedWakeOnMagicPacket: string;
  advancedWakeOnPattern: string;
}

export interface WinrmConfig {
  serviceInstalled: boolean;
  serviceRunning: boolean;
  serviceStartType: string;
  httpListener: boolean;
  httpsListener: boolean;
  httpsPort: boolean;
  certificateConfigured: boolean;
  firewallEnabled: boolean;
  allowUnencrypted: boolean;
  negotiateAuth: boolean;
  ntlmAuth: boolean;
}

/** Everything about a station that its commands do not change (mostly): hardware, policy, profile. */
export interface StationConfig {
  /** A_ComputerName: the NetBIOS name in upper case */
  computerName: string;
  version: string;
  profile: 'server' | 'hybrid';
  labUser: string;
  labUserExists: boolean;
  remoteAppEnabled: boolean;
  autoStartConfigured: boolean;
  winrm: WinrmConfig;
  nics: NicConfig[];
  armedDevices: string[];
  programmableDevices: string[];
  /** can `wol` / --repair-wake fix the NIC settings (false: a driver or BIOS that will not) */
  wakeRepairable: boolean;
  power: { activePlan: string; sleepAc: number; sleepDc: number; hibernateAc: number; hibernateDc: number };
  autoLogon: { enabled: boolean; passwordSet: boolean; user: string };
  remoteDesktopUsers: string[];
  denyInteractive: { configured: boolean; members: { token: string; label: string }[]; raw: string };
  fmu: { available: boolean; running: boolean; tokenConfigured: boolean; pid: number; port: number; consecutiveFailures: number };
}

export const BIOS_CHECKLIST = [
  'Verify in BIOS/UEFI that Wake-on-LAN is enabled',
  'Allow power-on from the integrated NIC',
  'If multiple NICs exist, confirm which one is wired',
  'Save changes and run a magic packet test',
];

const SID = 'S-1-5-21-1004336348-1177238915-682003330-1003';

/** The synthesized ready-hybrid station of the reference fixtures. */
export function defaultStationConfig(overrides: Partial<StationConfig> = {}): StationConfig {
  return {
    computerName: 'LAB-WS-01',
    version: '3.2.0',
    profile: 'hybrid',
    labUser: 'LABUSER',
    labUserExists: true,
    remoteAppEnabled: true,
    autoStartConfigured: true,
    winrm: {
      serviceInstalled: true,
      serviceRunning: true,
      serviceStartType: 'Automatic',
      httpListener: false,
      httpsListener: true,
      httpsPort: true,
      certificateConfigured: true,
      firewallEnabled: true,
      allowUnencrypted: false,
      negotiateAuth: true,
      ntlmAuth: true,
    },
    nics: [
      {
        name: 'Ethernet',
        interfaceDescription: 'Intel(R) Ethernet Connection (7) I219-LM',
        macAddress: '00-11-22-33-44-55',
        status: 'Up',
        wakeOnMagicPacket: 'Enabled',
        wakeOnPattern: 'Disabled',
        allowTurnOff: 'Disabled',
        deviceSleepOnDisconnect: 'Disabled',
        advancedWakeOnMagicPacket: '',
        advancedWakeOnPattern: '',
      },
    ],
    armedDevices: ['Intel(R) Ethernet Connection (7) I219-LM'],
    programmableDevices: ['Intel(R) Ethernet Connection (7) I219-LM', 'HID Keyboard Device'],
    wakeRepairable: true,
    power: { activePlan: 'Balanced', sleepAc: 0, sleepDc: 0, hibernateAc: 0, hibernateDc: 0 },
    autoLogon: { enabled: true, passwordSet: true, user: 'LABUSER' },
    remoteDesktopUsers: ['LABUSER'],
    denyInteractive: { configured: true, members: [{ token: `*${SID}`, label: SID }], raw: `*${SID}` },
    fmu: { available: false, running: false, tokenConfigured: false, pid: 0, port: 8091, consecutiveFailures: 0 },
    ...overrides,
  };
}

/** A quser session as the simulator keeps it. */
export interface StationSession {
  id: number;
  user: string;
  /** console, rdp-tcp#0, … ; empty for a disconnected session */
  sessionName: string;
  state: 'Active' | 'Disc' | 'Conn' | 'Listen' | 'Down';
  idle: string;
  logonAt: number;
}

export interface StatusInput {
  config: StationConfig;
  sessions: StationSession[];
  ini: IniDocument;
  localModeEnabled: boolean;
  /** status.timestamp: when the collection started */
  collectedAt: number;
  /** leave out summary.ready (Lab Station before 3.2.0) */
  withoutReady?: boolean;
  /** leave out schemaVersion (Lab Station before 2025-11-24) */
  withoutSchemaVersion?: boolean;
}

/** FormatTime(A_NowUTC, "yyyy-MM-ddTHH:mm:ssZ") */
export function stationTimestamp(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** quser's LOGON TIME column, e.g. 8/24/2026 9:00 AM (the simulated host's local time is UTC) */
export function quserLogonTime(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h12}:${String(d.getUTCMinutes()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
}

export function nicComplianceIssues(n: NicConfig): string[] {
  const issues: string[] = [];
  if (n.wakeOnMagicPacket !== 'Enabled') issues.push('Wake on Magic Packet disabled');
  if (n.wakeOnPattern === 'Enabled') issues.push('Wake on Pattern should be disabled');
  if (n.allowTurnOff === 'Enabled') issues.push('Allow computer to turn off is enabled');
  return issues;
}

export interface WakeReadiness {
  ready: boolean;
  armedCount: number;
  issues: string[];
}

/** The power command's check: armedCount ≠ 0 and every NIC wolReady. */
export function wakeReadiness(c: StationConfig): WakeReadiness {
  const issues: string[] = [];
  if (c.armedDevices.length === 0) issues.push('No wake-armed devices detected');
  for (const n of c.nics) for (const i of nicComplianceIssues(n)) issues.push(`${n.name}: ${i}`);
  return { ready: issues.length === 0, armedCount: c.armedDevices.length, issues };
}

function powerRaw(setting: 'sleep' | 'hibernate', ac: number, dc: number): string {
  const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
  const guid = setting === 'sleep' ? '29f6c1db-86da-48c5-9fdb-f2b67b1f44da  (Sleep after)' : '9d7815a6-7ee4-497e-8888-515a05f02364  (Hibernate after)';
  return [
    'Power Scheme GUID: 381b4222-f694-41f0-9685-ff5bb260df2e  (Balanced)',
    '  Subgroup GUID: 238c9fa8-0aad-41ed-83f4-97be242c8f20  (Sleep)',
    `    Power Setting GUID: ${guid}`,
    '      Minimum Possible Setting: 0x00000000',
    '      Maximum Possible Setting: 0xffffffff',
    '      Possible Settings increment: 0x00000001',
    '      Possible Settings units: Seconds',
    `    Current AC Power Setting Index: ${hex(ac)}`,
    `    Current DC Power Setting Index: ${hex(dc)}`,
    '',
    '',
  ].join('\r\n');
}

/** quser parsed by whitespace: a disconnected session has no session name, so its columns shift left. */
function quserEntry(s: StationSession): Record<string, string> {
  const user = s.user.toLowerCase();
  const logon = quserLogonTime(s.logonAt);
  if (!s.sessionName) {
    const [date, ...time] = logon.split(' ');
    return { user, session: String(s.id), id: s.state, state: s.idle, idle: date!, logonTime: time.join(' ') };
  }
  return { user, session: s.sessionName, id: String(s.id), state: s.state, idle: s.idle, logonTime: logon };
}

/** The operations block: every value read back from service-state.ini, with INI typing. */
export function buildOperations(ini: IniDocument): Record<string, unknown> {
  return {
    lastForcedLogoff: ini.readSection('forced-logoff'),
    lastPowerAction: ini.readSection('power-action'),
    lastPrepareSession: ini.readSection('prepare-session'),
    lastReleaseSession: ini.readSection('release-session'),
    lastSafeguardReboot: ini.readSection('safeguard-reboot'),
  };
}

export function summaryIssues(c: StationConfig): string[] {
  const issues: string[] = [];
  if (!c.labUserExists) issues.push('Lab user not found');
  if (!c.remoteAppEnabled) issues.push('RemoteApp policy missing');
  if (!winrmReady(c.winrm)) issues.push('WinRM not ready for Lab Gateway');
  if (!c.autoStartConfigured) issues.push('Controller autostart missing');
  if (c.profile === 'server') {
    if (!c.autoLogon.enabled) issues.push('AutoAdminLogon disabled');
    if (c.autoLogon.user.toLowerCase() !== c.labUser.toLowerCase()) issues.push('Autologon user mismatch');
    if (!c.autoLogon.passwordSet) issues.push('Autologon password not stored');
    const members = c.remoteDesktopUsers;
    if (!members.some((m) => m.toLowerCase() === c.labUser.toLowerCase())) issues.push('Lab user missing from Remote Desktop Users');
    const others = members.filter((m) => m.toLowerCase() !== c.labUser.toLowerCase());
    if (others.length) issues.push(`Unexpected Remote Desktop Users members: ${others.join(', ')}`);
    if (!c.denyInteractive.configured) issues.push('SeDenyInteractiveLogonRight not configured');
    if (labUserDenied(c)) issues.push('Lab user denied interactive logon');
  }
  if (c.armedDevices.length === 0) issues.push('No wake-armed devices detected');
  const bad = c.nics.filter((n) => nicComplianceIssues(n).length > 0).map((n) => n.name);
  if (bad.length) issues.push(`NIC power settings incomplete for: ${bad.join(', ')}`);
  if (c.power.sleepAc !== 0 || c.power.sleepDc !== 0) issues.push('Sleep timeout is not disabled');
  if (c.power.hibernateAc !== 0 || c.power.hibernateDc !== 0) issues.push('Hibernate timeout is not disabled');
  if (c.fmu.available) {
    if (!c.fmu.tokenConfigured) issues.push('FMU executor internal token is not configured');
    if (!c.fmu.running) issues.push('FMU executor is not running');
  }
  return issues;
}

function labUserDenied(c: StationConfig): boolean {
  return c.denyInteractive.members.some((m) => m.label.toLowerCase().endsWith(`\\${c.labUser.toLowerCase()}`) || m.label.toLowerCase() === c.labUser.toLowerCase());
}

export function winrmReady(w: WinrmConfig): boolean {
  return w.serviceRunning && w.httpsListener && w.httpsPort && w.certificateConfigured && w.firewallEnabled && !w.allowUnencrypted && w.negotiateAuth;
}

/** The NICs' wake settings and what keeps each from waking (the `wake` section). */
function wakeSection(c: StatusInput['config']) {
  const nicPower = c.nics.map((n) => {
    const complianceIssues = nicComplianceIssues(n);
    return {
      advancedWakeOnMagicPacket: n.advancedWakeOnMagicPacket,
      advancedWakeOnPattern: n.advancedWakeOnPattern,
      allowTurnOff: n.allowTurnOff,
      complianceIssues,
      deviceSleepOnDisconnect: n.deviceSleepOnDisconnect,
      interfaceDescription: n.interfaceDescription.replaceAll('|', ' '),
      macAddress: n.macAddress,
      name: n.name,
      status: n.status,
      wakeArmed: c.armedDevices.includes(n.name),
      wakeOnMagicPacket: n.wakeOnMagicPacket,
      wakeOnPattern: n.wakeOnPattern,
      wolReady: complianceIssues.length === 0,
    };
  });
  return {
    armedCount: c.armedDevices.length,
    armedDevices: [...c.armedDevices],
    nicNonCompliant: nicPower.filter((n) => !n.wolReady),
    nicPower,
    programmableCount: c.programmableDevices.length,
    programmableDevices: [...c.programmableDevices],
  };
}

function policySection(c: StatusInput['config'], labLower: string) {
  return {
    autoLogon: { enabled: c.autoLogon.enabled, passwordSet: c.autoLogon.passwordSet, user: c.autoLogon.user, userMatches: c.autoLogon.user.toLowerCase() === labLower },
    denyInteractive: { configured: c.denyInteractive.configured, labUserDenied: labUserDenied(c), members: c.denyInteractive.members.map((m) => ({ ...m })), raw: c.denyInteractive.raw },
    remoteDesktopUsers: {
      labUserPresent: c.remoteDesktopUsers.some((m) => m.toLowerCase() === labLower),
      members: [...c.remoteDesktopUsers],
      otherMembers: c.remoteDesktopUsers.filter((m) => m.toLowerCase() !== labLower),
      queryError: '',
      queryExitCode: 0,
    },
  };
}

function powerSection(c: StatusInput['config']) {
  return {
    activePlan: c.power.activePlan,
    hibernate: { acSeconds: c.power.hibernateAc, dcSeconds: c.power.hibernateDc, raw: powerRaw('hibernate', c.power.hibernateAc, c.power.hibernateDc) },
    hibernateCompliant: c.power.hibernateAc === 0 && c.power.hibernateDc === 0,
    sleep: { acSeconds: c.power.sleepAc, dcSeconds: c.power.sleepDc, raw: powerRaw('sleep', c.power.sleepAc, c.power.sleepDc) },
    sleepCompliant: c.power.sleepAc === 0 && c.power.sleepDc === 0,
  };
}

export function buildStatus(i: StatusInput): Record<string, unknown> {
  const c = i.config;
  const wake = wakeSection(c);
  const entries = [...i.sessions].sort((a, b) => a.id - b.id).map(quserEntry);
  const labLower = c.labUser.toLowerCase();
  const labSession = i.sessions.find((s) => s.user.toLowerCase() === labLower);
  const otherUsers = entries.filter((e) => e.user !== labLower);
  const operations = buildOperations(i.ini);
  const issues = summaryIssues(c);
  const summary: Record<string, unknown> = { issues, state: issues.length ? 'needs-action' : 'ready' };
  if (!i.withoutReady) summary.ready = issues.length === 0;
  return {
    autoStartConfigured: c.autoStartConfigured,
    biosChecklist: [...BIOS_CHECKLIST],
    fmuExecutor: {
      available: c.fmu.available,
      consecutiveFailures: c.fmu.consecutiveFailures,
      lastHealth: {},
      pid: c.fmu.pid,
      port: c.fmu.port,
      running: c.fmu.running,
      tokenConfigured: c.fmu.tokenConfigured,
    },
    identity: {
      labUser: c.labUser,
      labUserExists: c.labUserExists,
      labUserNormalized: labLower,
      profilePath: c.labUserExists ? `C:\\Users\\${c.labUser}` : '',
    },
    lastForcedLogoff: operations.lastForcedLogoff,
    localModeEnabled: i.localModeEnabled,
    localSessionActive: otherUsers.length > 0,
    operations,
    policy: policySection(c, labLower),
    power: powerSection(c),
    remoteAppEnabled: c.remoteAppEnabled,
    schemaVersion: i.withoutSchemaVersion ? undefined : '1.0.0',
    sessions: {
      entries,
      hasOtherUsers: otherUsers.length > 0,
      labUserSessionId: labSession ? String(labSession.id) : '',
      labUserState: labSession ? labSession.state : 'none',
      localSessionActive: otherUsers.length > 0,
      otherUsers,
    },
    stationProfile: c.profile,
    summary,
    timestamp: stationTimestamp(i.collectedAt),
    wake,
    winrm: { ...c.winrm, ready: winrmReady(c.winrm) },
  };
}

export function buildHeartbeat(status: Record<string, unknown>, config: StationConfig, builtAt: number, withoutSchemaVersion = false): Record<string, unknown> {
  return {
    autoStartConfigured: status.autoStartConfigured,
    host: config.computerName,
    operations: status.operations,
    remoteAppEnabled: status.remoteAppEnabled,
    schemaVersion: withoutSchemaVersion ? undefined : '1.0.0',
    status,
    summary: status.summary,
    timestamp: stationTimestamp(builtAt),
    version: config.version,
    wake: status.wake,
  };
}
