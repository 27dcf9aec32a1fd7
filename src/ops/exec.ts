// Runs one allow-listed LabStation.exe command on many hosts over WinRM with bounded concurrency and
// reports per host: exit code, the station's message, stderr, duration, and the status JSON when asked.
import { mapPool } from '../domain/pool.js';
import { stationOutcome, type LabStationCommand } from '../domain/labstation-commands.js';
import { UsageError } from '../domain/errors.js';
import { UnpassableArgument, winrsCommandLine } from '../domain/winrs-command-line.js';
import type { InventoryHost } from '../core/config/inventory.js';

export interface ExecRunner {
  run(exe: string, args: readonly string[], opts: { signal?: AbortSignal; deadlineMs?: number }): Promise<{ exitCode: number; stdout: string; stderr: string; durationMs: number }>;
  close(): Promise<void> | void;
}

export interface ExecPorts {
  /** a runner for the host; may throw (no credentials, bad transport) */
  connect(host: InventoryHost): ExecRunner;
  now(): number;
}

export type ExecOutcome = 'ok' | 'failed' | 'rejected' | 'unreachable' | 'auth' | 'error';

export interface ExecHostResult {
  host: string;
  outcome: ExecOutcome;
  exitCode: number | null;
  /** the station's message (stdout, trimmed) */
  message: string;
  stderr: string;
  durationMs: number;
  /** parsed status-json output */
  status?: unknown;
}

export interface ExecResult {
  command: string;
  args: string[];
  hosts: ExecHostResult[];
}

export async function execOnHosts(
  hosts: readonly InventoryHost[],
  command: LabStationCommand,
  opts: { concurrency: number; timeoutMs: number },
  ports: ExecPorts,
  signal?: AbortSignal,
  onResult?: (r: ExecHostResult) => void,
): Promise<ExecResult> {
  // Every host's command line is built before any connection: a path or argument that cannot reach LabStation.exe
  // exactly through the cmd shell stops the whole run (exit 2), not one host after another.
  for (const host of hosts) {
    try {
      winrsCommandLine(host.labstationExe, command.argv);
    } catch (e) {
      if (!(e instanceof UnpassableArgument)) throw e;
      throw new UsageError(`host '${host.name}': ${e.message}`, e.argument === 0 ? { suggestion: `fix labstation_exe of ${host.name} in the inventory` } : {});
    }
  }
  const one = async (host: InventoryHost): Promise<ExecHostResult> => {
    const started = ports.now();
    const fail = (outcome: ExecOutcome, message: string): ExecHostResult => ({ host: host.name, outcome, exitCode: null, message, stderr: '', durationMs: Math.round(ports.now() - started) });
    let runner: ExecRunner | undefined;
    try {
      runner = ports.connect(host);
      const r = await runner.run(host.labstationExe, command.argv, { signal, deadlineMs: opts.timeoutMs });
      const outcome = stationOutcome(r.exitCode);
      const out: ExecHostResult = {
        host: host.name,
        outcome,
        exitCode: r.exitCode,
        message: r.stdout.trim(),
        stderr: r.stderr.trim(),
        durationMs: r.durationMs,
      };
      if (command.json && outcome === 'ok') {
        try {
          out.status = JSON.parse(r.stdout.replace(/^\uFEFF/, ''));
          out.message = 'status JSON';
        } catch {
          out.outcome = 'failed';
          out.message = `status-json printed something that is not JSON: ${r.stdout.slice(0, 80)}`;
        }
      }
      if (outcome === 'rejected') out.message = `LabStation rejected the command: ${out.message || out.stderr}`;
      return out;
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      const outcome: ExecOutcome = kind === 'unreachable' ? 'unreachable' : kind === 'auth' ? 'auth' : 'error';
      return fail(outcome, (e as Error).message);
    } finally {
      await runner?.close();
    }
  };
  const results = await mapPool(hosts, opts.concurrency, async (h) => {
    const r = await one(h);
    onResult?.(r);
    return r;
  }, signal);
  return { command: command.name, args: command.argv, hosts: results.filter(Boolean) };
}
