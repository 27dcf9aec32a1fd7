// labops exec and POST /api/winrm's command path: one allow-listed LabStation.exe command on many hosts over
// WinRM, credentials from the inventory, the credentials file or the settings (flags over them).
import type { AppContext } from './context.js';
import type { InventoryHost } from '../core/config/inventory.js';
import type { WinRMOverrides } from '../core/winrm/for-host.js';
import type { LabStationCommand } from '../domain/labstation-commands.js';
import type { ExecHostResult, ExecResult } from '../ops/exec.js';
import { UsageError } from '../domain/errors.js';
import { winrmConnector } from './clients.js';

export interface ExecRequest {
  hosts: readonly InventoryHost[];
  command: LabStationCommand;
  /** transport, TLS, user, password file or a typed password, deadline */
  winrm: WinRMOverrides;
  concurrency: number;
}

/**
 * Checks every host's credentials before anything runs. Returns the error when only a password is missing (a
 * command may ask for one on a terminal and pass it in `winrm.password`); throws for anything else.
 */
export async function missingPassword(ctx: AppContext, hosts: readonly InventoryHost[], winrm: WinRMOverrides): Promise<UsageError | undefined> {
  const connect = await winrmConnector(ctx, winrm);
  try {
    for (const h of hosts) connect(h);
    return undefined;
  } catch (e) {
    if (e instanceof UsageError && /no WinRM credentials/.test(e.message)) return e;
    throw e;
  }
}

export async function execOnFleet(ctx: AppContext, req: ExecRequest, onHost?: (r: ExecHostResult) => void): Promise<ExecResult> {
  const [{ execOnHosts }, connect] = await Promise.all([import('../ops/exec.js'), winrmConnector(ctx, req.winrm)]);
  return execOnHosts(
    req.hosts,
    req.command,
    { concurrency: req.concurrency, timeoutMs: req.winrm.timeoutMs ?? 120_000 },
    {
      now: ctx.clock.now,
      connect: (h) => {
        const client = connect(h);
        return { run: (exe, args, ro) => client.runCommand(exe, args, ro), close: () => client.close() };
      },
    },
    ctx.signal,
    onHost,
  );
}
