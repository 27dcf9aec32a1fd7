// labops exec: run an allow-listed LabStation.exe command on hosts over WinRM.
import { Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act } from '../action.js';
import { UsageError } from '../../domain/errors.js';
import { isAllowedCommandWord } from '../../domain/labstation-commands.js';
import type { Outcome } from '../../domain/outcome.js';
import type { ExecHostResult, ExecResult } from '../../ops/exec.js';
import type { WinRMOverrides } from '../../core/winrm/for-host.js';

interface ExecFlags {
  all?: boolean;
  transport?: 'basic' | 'ntlm';
  ssl?: boolean;
  port?: number;
  user?: string;
  passwordFile?: string;
  ca?: string;
  insecure?: boolean;
  timeout?: number;
  concurrency?: number;
}

export interface ExecOptions {
  /** host names (empty with --all, or when the picker should ask) */
  hosts: string[];
  all: boolean;
  /** the LabStation command and its arguments (empty: the picker asks) */
  argv: string[];
  winrm: WinRMOverrides;
  concurrency: number;
}

export function registerExec(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('exec')
    .summary('run a LabStation.exe command on hosts over WinRM')
    .description(
      'Run C:\\LabStation\\LabStation.exe <command> on Windows lab hosts over WinRM and report, per host, the exit code, the station\'s message, stderr and the duration. ' +
        'Only these commands are allowed: prepare-session, release-session, session guard, power shutdown|hibernate, status-json, recovery reboot-if-needed, status; anything else is refused before any connection. ' +
        'Commands run through the WinRS cmd shell, as pywinrm\'s run_cmd does (no PowerShell start-up), and every argument reaches LabStation.exe exactly as given: each is quoted for cmd.exe and the station\'s argument parser, so --reason="Remote order & more" is one argument. ' +
        'An argument that cannot pass exactly that way (one holding ", %, !, a line break or another control character, or a command line over 8000 characters) is refused with exit 2 before any connection, naming the argument and the character. ' +
        'Transports: HTTP 5985 with NTLMv2 and message encryption, HTTPS 5986 with Basic or NTLM and certificate verification. Kerberos and CredSSP are not supported. ' +
        'Power and reboot commands ask for confirmation on a terminal and need --yes otherwise. Passwords come from the inventory (env:/file: references), the credentials file, --password-file or a prompt; never from the command line.',
    )
    .argument('[host...]', 'inventory host names, then -- and the LabStation command with its arguments')
    .option('--all', 'every inventory host (quarantined hosts excepted)')
    .addOption(new Option('--transport <t>', 'authentication (default: the host\'s winrm_transport, ntlm)').choices(['basic', 'ntlm']))
    .option('--ssl', 'HTTPS (port 5986 unless --port)')
    .option('--port <n>', 'WinRM port', intArg(1, 65535))
    .option('--user <user>', 'WinRM user (DOMAIN\\user or user@domain)')
    .option('--password-file <file>', 'file holding the WinRM password')
    .option('--ca <file>', 'PEM CA bundle the HTTPS certificate must chain to')
    .option('--insecure', 'do not verify the HTTPS certificate (warned; use --ca instead)')
    .option('--timeout <dur>', 'per-host deadline for the whole command (default 2m; a prepare with a 90 s guard needs more than 90 s)', durationArg)
    .option('--concurrency <n>', 'hosts at once (default 256: a host costs labops a few milliseconds of CPU while its station works for 0.3 s or more)', intArg(1, 1024));
  act(cmd, f, (operands: string[], o: ExecFlags) => execOptions(operands, o, f.rawArgs), runExec);
  return helpAfter(
    cmd,
    'Examples:\n  labops exec lab-ws-01 -- status-json\n  labops exec --all -- prepare-session --guard-grace=90\n  labops exec lab-ws-01 lab-ws-02 -- power shutdown --reason="Reservation completed"\n  labops exec --all -- session guard --message="Back in 5 minutes"\n  labops exec lab-ws-03 --ssl --ca /etc/labops/winrm-ca.pem -- release-session\n\n' +
      'Exit: 0 ok; 1 the station failed (exit 1) or rejected the command (exit 2), or hosts failed in different ways; 2 bad input (nothing run); 3 unreachable or timed out; 4 credentials or TLS; 5 some hosts ok, some not.',
  );
}

/** Hosts before `--`, the LabStation command after it (or from the first allow-listed word when there is no `--`). */
export function splitOperands(operands: string[], rawArgs: readonly string[], isCommandWord: (w: string) => boolean): { hosts: string[]; command: string[] } {
  const sep = rawArgs.indexOf('--');
  if (sep >= 0) {
    const tail = rawArgs.length - sep - 1;
    return { hosts: operands.slice(0, operands.length - tail), command: operands.slice(operands.length - tail) };
  }
  const at = operands.findIndex(isCommandWord);
  return at < 0 ? { hosts: operands, command: [] } : { hosts: operands.slice(0, at), command: operands.slice(at) };
}

export function execOptions(operands: string[], o: ExecFlags, rawArgs: readonly string[]): ExecOptions {
  const { hosts, command } = splitOperands(operands, rawArgs, isAllowedCommandWord);
  if (o.all && hosts.length) throw new UsageError('give host names or --all, not both');
  return {
    hosts,
    all: Boolean(o.all),
    argv: command,
    winrm: { transport: o.transport, ssl: o.ssl, port: o.port, user: o.user, passwordFile: o.passwordFile, ca: o.ca, insecure: o.insecure, timeoutMs: o.timeout },
    concurrency: o.concurrency ?? 256,
  };
}

export async function runExec(f: Factory, o: ExecOptions): Promise<Outcome[]> {
  const [lc, { selectHosts }, exec] = await Promise.all([import('../../domain/labstation-commands.js'), import('../../app/hosts.js'), import('../../app/exec.js')]);
  const index = await f.inventory();
  let names = o.hosts;
  if (!o.all && names.length === 0 && f.io.canPrompt() && index.hosts.length) {
    const { pickMany } = await import('../io/pick.js');
    names = await pickMany(f.io, { message: 'Hosts', choices: index.hosts.map((h) => ({ value: h.name, description: h.address })) });
  }
  const hosts = selectHosts(index, names, o.all);
  let argv = o.argv;
  if (argv.length === 0) {
    if (!f.io.canPrompt()) {
      const e = new UsageError(`no LabStation command after --; allowed: ${lc.ALLOWED_COMMANDS.map((c) => c.name).join(', ')}`);
      e.showUsage = true;
      throw e;
    }
    const { pickOne } = await import('../io/pick.js');
    const picked = await pickOne(f.io, 'LabStation command', lc.ALLOWED_COMMANDS.map((c) => ({ value: c.name, description: c.summary })));
    argv = picked.split(' ');
  }
  const command = lc.parseLabStationCommand(argv);
  if (typeof command === 'string') throw new UsageError(command);
  if (o.winrm.insecure) f.io.warn('--insecure: the HTTPS certificate is not verified; anyone on the path can read the password');
  // Every host is checked before anything runs: a missing credential is a usage error, or a prompt on a terminal.
  let winrm = o.winrm;
  const missing = await exec.missingPassword(f, hosts, winrm);
  if (missing) {
    if (!f.io.canPrompt()) throw missing;
    const { password: prompt } = await import('@inquirer/prompts');
    winrm = { ...winrm, password: await prompt({ message: `WinRM password${winrm.user ? ` for ${winrm.user}` : ''}`, mask: '*' }, { input: f.io.stdin, output: f.io.stdout }) };
  }
  if (command.destructive && !(await f.confirm(`${command.name} on ${hostList(hosts.map((h) => h.name))}`))) {
    f.io.error('cancelled; nothing was run');
    return ['failed'];
  }
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `${command.name} on ${hosts.length} host(s)`);
  let done = 0;
  let result: ExecResult;
  try {
    result = await exec.execOnFleet(f, { hosts, command, winrm, concurrency: o.concurrency }, () => progress.update(`${command.name}: ${++done}/${hosts.length} done`));
  } finally {
    progress.stop();
  }
  await renderExec(f, result, command.json);
  return result.hosts.map((h) => EXEC_OUTCOME[h.outcome]);
}

/** The hosts a confirmation is about: all of a few, else the first ones and how many more. */
export function hostList(names: readonly string[], first = 8): string {
  if (names.length <= first + 1) return names.join(', ');
  return `${names.slice(0, first).join(', ')} and ${names.length - first} more`;
}

/** A rejected command (LabStation exit 2) failed as much as one that ran and failed: exit 1, as documented. */
const EXEC_OUTCOME: Record<ExecHostResult['outcome'], Outcome> = { ok: 'ok', failed: 'failed', rejected: 'failed', unreachable: 'unreachable', auth: 'auth', error: 'failed' };

async function renderExec(f: Factory, result: ExecResult, json: boolean): Promise<void> {
  if (f.io.json) return f.io.printJson(result);
  if (json) {
    for (const h of result.hosts) {
      if (h.status !== undefined) {
        if (f.io.stdoutIsTTY) f.io.out(`${h.host}:\n${JSON.stringify(h.status, null, 2)}`);
        else f.io.out(result.hosts.length === 1 ? JSON.stringify(h.status) : `${h.host}\t${JSON.stringify(h.status)}`);
      } else f.io.error(`${h.host}: ${h.message}`);
    }
    return;
  }
  const { renderTable } = await import('../io/render.js');
  renderTable<ExecHostResult>(
    f.io,
    [
      { header: 'HOST', value: (r) => r.host },
      { header: 'RESULT', value: (r) => r.outcome, pretty: (r, c) => (r.outcome === 'ok' ? c.green : c.red)(r.outcome) },
      { header: 'EXIT', value: (r) => (r.exitCode === null ? '-' : String(r.exitCode)) },
      { header: 'TIME', value: (r) => (r.durationMs / 1000).toFixed(1), pretty: (r) => `${(r.durationMs / 1000).toFixed(1)}s` },
      { header: 'MESSAGE', value: (r) => r.message },
      { header: 'STDERR', value: (r) => r.stderr },
    ],
    result.hosts,
  );
}
