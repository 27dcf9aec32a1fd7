// The LabStation.exe commands labops runs remotely: the allow-list, which of them change the station's power
// (confirmation needed), and what the station's exit code means (0 ok, 1 warnings/failed, 2 rejected).
import { argumentProblem } from './winrs-command-line.js';

export interface LabStationCommand {
  /** argv after the exe: command word, subcommand, flags */
  argv: string[];
  /** e.g. `power shutdown` */
  name: string;
  /** shuts down, hibernates or reboots the host */
  destructive: boolean;
  /** prints a status JSON document on stdout */
  json: boolean;
}

const COMMANDS: Record<string, { sub?: readonly string[]; summary: string }> = {
  'prepare-session': { summary: 'clean the station for a reservation (session guard, grace)' },
  'release-session': { summary: 'log the lab user off after a reservation (--reboot reboots)' },
  session: { sub: ['guard'], summary: 'session guard: evict local users after a grace period' },
  power: { sub: ['shutdown', 'hibernate'], summary: 'shut down or hibernate the station' },
  'status-json': { summary: 'the station status as JSON' },
  recovery: { sub: ['reboot-if-needed'], summary: 'reboot when the station is in a bad state' },
  status: { summary: 'a readable status summary' },
};

export const ALLOWED_COMMANDS: readonly { name: string; summary: string }[] = Object.entries(COMMANDS).flatMap(([cmd, c]) =>
  c.sub ? c.sub.map((s) => ({ name: `${cmd} ${s}`, summary: c.summary })) : [{ name: cmd, summary: c.summary }],
);

export function isAllowedCommandWord(word: string): boolean {
  return Object.hasOwn(COMMANDS, word);
}

/**
 * Validates argv against the allow-list and checks that every argument can reach LabStation.exe exactly through the
 * WinRS cmd shell (see winrs-command-line.ts); returns an error message for anything else.
 */
export function parseLabStationCommand(argv: readonly string[]): LabStationCommand | string {
  const [cmd, sub] = argv;
  if (!cmd) return 'no LabStation command given';
  const def = COMMANDS[cmd];
  if (!def) return `'${cmd}' is not an allowed LabStation command (allowed: ${ALLOWED_COMMANDS.map((c) => c.name).join(', ')})`;
  if (def.sub && (!sub || !def.sub.includes(sub))) return `'${cmd}' needs one of: ${def.sub.join(', ')}`;
  const name = def.sub ? `${cmd} ${sub}` : cmd;
  const unpassable = argumentProblem(argv);
  if (unpassable) return unpassable.message;
  const flags = argv.slice(def.sub ? 2 : 1);
  const reboots = cmd === 'release-session' && flags.some((f) => f === '--reboot' || f.startsWith('--reboot='));
  return {
    argv: [...argv],
    name,
    destructive: cmd === 'power' || cmd === 'recovery' || reboots,
    json: cmd === 'status-json' && flags.length === 0,
  };
}

export type StationOutcome = 'ok' | 'failed' | 'rejected';

/** LabStation exit code → outcome: 0 ok, 1 failed or warnings, 2 usage error or unknown command. */
export function stationOutcome(exitCode: number): StationOutcome {
  if (exitCode === 0) return 'ok';
  if (exitCode === 2) return 'rejected';
  return 'failed';
}

/** The flags each allowed command takes, as LabStation.exe's usage text lists them (reference/labgateway §4). */
const FLAGS: Record<string, readonly string[]> = {
  'prepare-session': ['--user=', '--guard', '--no-guard', '--guard-grace=', '--guard-message=', '--guard-silent'],
  'release-session': ['--user=', '--reboot', '--reboot-timeout='],
  'session guard': ['--grace=', '--user=', '--message=', '--silent', '--soft'],
  'power shutdown': ['--delay=', '--reason=', '--no-force', '--skip-wake-check', '--require-wake', '--repair-wake=no'],
  'power hibernate': ['--delay=', '--reason=', '--no-force', '--skip-wake-check', '--require-wake', '--repair-wake=no'],
  'recovery reboot-if-needed': ['--force', '--timeout=', '--user=', '--reason='],
};

/** What may come next after `exec … --` and these words: the command, its subcommand, then its flags. */
export function labstationNextWords(argv: readonly string[]): { value: string; description?: string }[] {
  const [cmd, sub] = argv;
  if (!cmd) return Object.entries(COMMANDS).map(([value, c]) => ({ value, description: c.summary }));
  const def = COMMANDS[cmd];
  if (!def) return [];
  if (def.sub && (argv.length === 1 || !def.sub.includes(sub!))) return argv.length === 1 ? def.sub.map((value) => ({ value })) : [];
  const used = new Set(argv.slice(def.sub ? 2 : 1).map((a) => a.replace(/=.*$/, '=')));
  return (FLAGS[def.sub ? `${cmd} ${sub}` : cmd] ?? []).filter((f) => !used.has(f)).map((value) => ({ value }));
}
