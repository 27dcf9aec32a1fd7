// labops sim: the simulated lab on loopback (Lab Stations with WinRM, CML controllers, the LINBO API) and the
// config file that points labops at it.
import type { AppContext } from './context.js';
import type { Simulator } from '../sim/simulator.js';
import type { CmlControllers } from '../sim/cml/index.js';
import type { LinboApi } from '../sim/linbo/api.js';
import { UsageError } from '../domain/errors.js';

export interface LabOptions {
  stations: number;
  baseAddress: string;
  stateDir?: string;
  port: number;
  wolPort: number;
  bootDelay: number;
  poweredOn?: boolean;
  timeScale: number;
  cml: number;
  cmlLabs: number;
  commandLatency: number;
  powershellLatency: number;
  linboApi?: boolean;
  redisUrl?: string;
}

export interface Lab {
  sim: Simulator;
  cml?: CmlControllers;
  linbo?: LinboApi;
  /** one config file for everything the simulator runs: `labops --config <it> …` reaches stations and controllers */
  configPath: string;
  linboKeyFile?: string;
  close(): Promise<void>;
}

export async function startLab(ctx: AppContext, o: LabOptions): Promise<Lab> {
  const [{ startSimulator }, { join }, { xdgStateHome }, { writeFileSync, renameSync }] = await Promise.all([
    import('../sim/simulator.js'),
    import('node:path'),
    import('../core/config/settings.js'),
    import('node:fs'),
  ]);
  if (o.linboApi && !o.redisUrl) throw new UsageError('--linbo-api needs --redis-url');
  const stateDir = o.stateDir ?? join(xdgStateHome(ctx.env), 'labops', 'sim');
  let sim: Simulator;
  try {
    sim = await startSimulator({ hosts: o.stations, baseAddress: o.baseAddress, stateDir, port: o.port, wolPort: o.wolPort, bootDelayMs: o.bootDelay, poweredOn: o.poweredOn, timeScale: o.timeScale, latency: { commandMs: o.commandLatency, powershellMs: o.powershellLatency } });
  } catch (e) {
    throw new UsageError(`cannot start the simulator: ${(e as Error).message}`);
  }
  let cml: CmlControllers | undefined;
  if (o.cml > 0) {
    const { startCmlControllers } = await import('../sim/cml/index.js');
    cml = await startCmlControllers({ count: o.cml, labsPerController: o.cmlLabs, stateDir, changeEveryMs: 60_000 / o.timeScale });
  }
  let linbo: LinboApi | undefined;
  let linboKeyFile: string | undefined;
  if (o.linboApi) {
    const [{ startLinboApi }, { randomBytes }] = await Promise.all([import('../sim/linbo/api.js'), import('node:crypto')]);
    const key = randomBytes(16).toString('hex');
    linboKeyFile = join(stateDir, 'linbo-internal-key');
    writeFileSync(linboKeyFile, `${key}\n`, { mode: 0o600 });
    linbo = await startLinboApi({ redisUrl: o.redisUrl!, internalKey: key });
  }
  const configPath = join(stateDir, 'config.json');
  writeFileSync(`${configPath}.tmp`, `${JSON.stringify({ hosts: sim.inventoryPath, ...(cml ? { cml: { servers: cml.servers } } : {}) }, null, 2)}\n`);
  renameSync(`${configPath}.tmp`, configPath);
  return {
    sim,
    cml,
    linbo,
    configPath,
    linboKeyFile,
    async close() {
      await linbo?.close();
      await cml?.close();
      await sim.close();
    },
  };
}
