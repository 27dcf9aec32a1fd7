// labops exec: run an allow-listed LabStation.exe command on hosts over WinRM.
import { Option, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import type { ExecHostResult, ExecResult } from '../../ops/exec.js';
import type { InventoryHost } from '../../core/config/inventory.js';

export interface ExecOptions {
  operands: string[];
  all: boolean;
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

export function registerExec(parent: Command, f: Factory, run: (f: Factory, o: ExecOptions) => Promise<void> = runExec): Command {
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
    .option('--concurrency <n>', 'hosts at once (default 256: a host costs labops a few milliseconds of CPU while its station works for 0.3 s or more)', intArg(1, 1024))
    .action((operands: string[], o: Omit<ExecOptions, 'operands'>) => run(f, { ...o, operands, all: Boolean(o.all) }));
  return helpAfter(
    cmd,
    'Examples:\n  labops exec lab-ws-01 -- status-json\n  labops exec --all -- prepare-session --guard-grace=90\n  labops exec lab-ws-01 lab-ws-02 -- power shutdown --reason="Reservation completed"\n  labops exec --all -- session guard --message="Back in 5 minutes"\n  labops exec lab-ws-03 --ssl --ca /etc/labops/winrm-ca.pem -- release-session\n\n' +
      'Exit: 0 ok; 1 the station reported failure (exit 1) or rejected the command (exit 2); 2 bad input (nothing run); 3 unreachable or timed out; 4 credentials or TLS; 5 mixed results.',
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

export async function runExec(f: Factory, o: ExecOptions): Promise<void> {
  const [{ UsageError, Silent }, lc, index, cfg] = await Promise.all([import('../../domain/errors.js'), import('../../domain/labstation-commands.js'), f.inventory(), f.config()]);
  let { hosts: names, command: argv } = splitOperands(o.operands, f.rawArgs, lc.isAllowedCommandWord);
  if (o.all && names.length) throw new UsageError('give host names or --all, not both');
  let hosts: InventoryHost[];
  if (o.all) hosts = index.hosts.filter((h) => !h.quarantined);
  else if (names.length) {
    hosts = names.map((n) => {
      const h = index.find(n);
      if (!h) throw new UsageError(`unknown host '${n}'`, { suggestion: index.inventory.file ? `hosts come from ${index.inventory.file}` : 'pass --hosts <file> or set OPS_CONFIG' });
      return h;
    });
  } else if (f.io.canPrompt() && index.hosts.length) {
    const { checkbox } = await import('@inquirer/prompts');
    names = await checkbox({ message: 'Hosts', choices: index.hosts.map((h) => ({ name: h.name, value: h.name })), required: true }, { input: f.io.stdin, output: f.io.stdout });
    hosts = names.map((n) => index.find(n)!);
  } else {
    const e = new UsageError('no host: name hosts or use --all');
    e.showUsage = true;
    throw e;
  }
  if (argv.length === 0) {
    if (!f.io.canPrompt()) {
      const e = new UsageError(`no LabStation command after --; allowed: ${lc.ALLOWED_COMMANDS.map((c) => c.name).join(', ')}`);
      e.showUsage = true;
      throw e;
    }
    const { select } = await import('@inquirer/prompts');
    const picked = await select({ message: 'LabStation command', choices: lc.ALLOWED_COMMANDS.map((c) => ({ name: `${c.name}  (${c.summary})`, value: c.name })) }, { input: f.io.stdin, output: f.io.stdout });
    argv = picked.split(' ');
  }
  const command = lc.parseLabStationCommand(argv);
  if (typeof command === 'string') throw new UsageError(command);
  if (o.insecure) f.io.warn('--insecure: the HTTPS certificate is not verified; anyone on the path can read the password');
  const { credentialSources, winrmClientFor } = await import('../../core/winrm/for-host.js');
  const sources = credentialSources(cfg, f.env);
  let password: string | undefined;
  // Every host is checked before anything runs: a missing credential is a usage error, or a prompt on a terminal.
  try {
    for (const h of hosts) winrmClientFor(h, { ...o, timeoutMs: o.timeout }, sources);
  } catch (e) {
    if (!(e instanceof UsageError) || !/no WinRM credentials/.test(e.message) || !f.io.canPrompt()) throw e;
    const { password: prompt } = await import('@inquirer/prompts');
    password = await prompt({ message: `WinRM password${o.user ? ` for ${o.user}` : ''}`, mask: '*' }, { input: f.io.stdin, output: f.io.stdout });
  }
  if (command.destructive) {
    const ok = await f.confirm(`${command.name} on ${hosts.length === 1 ? hosts[0]!.name : `${hosts.length} hosts`}`);
    if (!ok) {
      f.io.error('cancelled; nothing was run');
      throw new Silent('failed');
    }
  }
  const { execOnHosts } = await import('../../ops/exec.js');
  const { startProgress } = await import('../io/spinner.js');
  const progress = await startProgress(f.io, `${command.name} on ${hosts.length} host(s)`);
  let done = 0;
  let result: ExecResult;
  try {
    result = await execOnHosts(
      hosts,
      command,
      { concurrency: o.concurrency ?? 256, timeoutMs: o.timeout ?? 120_000 },
      {
        now: f.clock.now,
        connect: (h) => {
          const client = winrmClientFor(h, { ...o, password: password ?? undefined, timeoutMs: o.timeout }, sources);
          return { run: (exe, args, ro) => client.runCommand(exe, args, ro), close: () => client.close() };
        },
      },
      f.signal,
      () => progress.update(`${command.name}: ${++done}/${hosts.length} done`),
    );
  } finally {
    progress.stop();
  }
  await renderExec(f, result, command.json);
  if (f.signal.aborted) return;
  const outcomes = result.hosts.map((h) => h.outcome);
  if (outcomes.every((x) => x === 'ok')) return;
  if (outcomes.some((x) => x === 'ok')) throw new Silent('partial');
  const kinds = new Set(outcomes);
  if (kinds.size === 1 && kinds.has('unreachable')) throw new Silent('unreachable');
  if (kinds.size === 1 && kinds.has('auth')) throw new Silent('auth');
  if (kinds.size > 1 && hosts.length > 1) throw new Silent('partial');
  throw new Silent(kinds.has('unreachable') ? 'unreachable' : kinds.has('auth') ? 'auth' : 'failed');
}

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
