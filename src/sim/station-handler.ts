// Connects the simulated WinRM server to a station's LabStation.exe runtime: commands for the exe go to the
// state machine, file reads to the station's files, anything else fails as cmd.exe would.
import type { CommandHandler, CommandRequest, CommandResult } from './winrm/handler.js';
import type { StationRuntime } from './labstation/index.js';
import { StationUnavailableError } from './labstation/index.js';

const norm = (p: string) => p.replace(/\\+/g, '\\').replace(/^"|"$/g, '').toLowerCase();

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
    private readonly exe = 'C:\\LabStation\\LabStation.exe',
    private readonly latency: StationLatency = {},
  ) {}

  async run(req: CommandRequest, ctx: { signal: AbortSignal }): Promise<CommandResult> {
    await delay((req.via === 'cmd' ? 0 : (this.latency.powershellMs ?? 0)) + (this.latency.commandMs ?? 0), ctx.signal);
    const cmd = norm(req.command);
    if (cmd !== norm(this.exe) && cmd !== 'labstation.exe' && cmd !== 'labstation') {
      return { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`'${req.command}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`) };
    }
    try {
      const r = await Promise.race([
        this.runtime.execute(req.args),
        new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })),
      ]);
      return { exitCode: r.exitCode, stdout: Buffer.from(r.stdout, 'utf8'), stderr: Buffer.from(r.stderr, 'utf8') };
    } catch (e) {
      if (e instanceof StationUnavailableError) throw e; // the host went down: the connection drops
      throw e;
    }
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    await delay(this.latency.powershellMs ?? 0);
    return this.runtime.readFile(path);
  }

  async writeFile(path: string, data: Buffer): Promise<boolean> {
    await delay(this.latency.powershellMs ?? 0);
    return this.runtime.writeFile(path, data);
  }

  async deleteFile(path: string): Promise<void> {
    await delay(this.latency.powershellMs ?? 0);
    this.runtime.deleteFile(path);
  }
}
