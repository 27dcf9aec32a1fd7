// Connects the simulated WinRM server to a station's LabStation.exe runtime: LabStation.exe's A_Args go to the
// state machine, file reads and redirections to the station's files (the simulated Windows decides what runs).
import { DEFAULT_LABSTATION_EXE, type CommandHandler, type CommandRequest, type CommandResult } from './winrm/handler.js';
import type { StationRuntime } from './labstation/index.js';
import type { FaultPlan } from './faults.js';

/** What a real station costs per call, for benchmarks: LabStation.exe collects status with ~10 subprocesses, and
 * every PowerShell invocation starts powershell.exe. Zero (instant) unless the simulator is asked for it. */
export interface StationLatency {
  commandMs?: number;
  powershellMs?: number;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (!ms) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

export class StationCommandHandler implements CommandHandler {
  constructor(
    private readonly runtime: StationRuntime,
    readonly exe = DEFAULT_LABSTATION_EXE,
    private readonly latency: StationLatency = {},
    /** station.command / station.powershell latency and `station.command:hang` faults */
    private readonly faults?: FaultPlan,
  ) {}

  async run(req: CommandRequest, ctx: { signal: AbortSignal }): Promise<CommandResult> {
    const aborted = new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    aborted.catch(() => {}); // an abort during the latency below is not an unhandled rejection
    await delay((this.latency.commandMs ?? 0) + (this.faults?.latencyFor('command') ?? 0), ctx.signal);
    // a hung LabStation.exe: it never answers; the caller's Signal or timeout ends it
    if (this.faults?.take({ endpoint: 'command', host: this.runtime.name })?.kind === 'hang') await aborted;
    const r = await Promise.race([this.runtime.execute(req.args), aborted]);
    return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout, 'utf8'), stderr: Buffer.from(r.stderr, 'utf8') };
  }

  powershellStartup(signal: AbortSignal): Promise<void> {
    return delay((this.latency.powershellMs ?? 0) + (this.faults?.latencyFor('powershell') ?? 0), signal);
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    return this.runtime.readFile(path);
  }

  async writeFile(path: string, data: Buffer): Promise<boolean> {
    return this.runtime.writeFile(path, data);
  }

  async deleteFile(path: string): Promise<void> {
    this.runtime.deleteFile(path);
  }
}
