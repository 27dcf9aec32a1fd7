// labops sim: the simulated lab on loopback (Lab Stations with WinRM, CML controllers, the LINBO API), its faults and
// behaviour (the same options at start and, through the control endpoint, at run time), and the config file that
// points labops at it.
import type { AppContext } from './context.js';
import type { Simulator } from '../sim/simulator.js';
import type { CmlControllers } from '../sim/cml/index.js';
import type { LinboApi } from '../sim/linbo/api.js';
import type { BehaviourText, ControlServer, SimControls } from '../sim/control.js';
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
  /** fault rules (`<sim>.<endpoint>:<fault>[@<schedule>]`), latency per request kind, CML change and token lifetime, station faults */
  fault?: string[];
  latency?: string;
  cmlChange?: string;
  cmlTokenTtl?: string;
  stationFault?: string[];
  /** the control endpoint's loopback address:port; false: none */
  control?: string | false;
}

export interface Lab {
  sim: Simulator;
  cml?: CmlControllers;
  linbo?: LinboApi;
  /** one config file for everything the simulator runs: `labops --config <it> …` reaches stations and controllers */
  configPath: string;
  linboKeyFile?: string;
  controls: SimControls;
  /** the control endpoint's base URL, when it runs */
  controlUrl?: string;
  close(): Promise<void>;
}

/** `127.0.0.1:0`, `[::1]:9000`, `9000` (on 127.0.0.1): a loopback address only. */
export function parseControlAddress(v: string): { address: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) throw new UsageError(`--control '${v}': expected <address>:<port> on loopback, e.g. 127.0.0.1:7070 (port 0 picks a free one)`);
  const address = m[1] || m[2] || '127.0.0.1';
  if (!((/^127\.\d+\.\d+\.\d+$/.test(address)) || address === '::1')) throw new UsageError(`--control '${v}': the control endpoint listens on a loopback address only (127.0.0.0/8 or ::1)`);
  return { address, port };
}

function behaviourText(o: LabOptions): BehaviourText {
  return {
    fault: o.fault ?? [],
    latency: o.latency ?? '',
    ...(o.cml > 0 || o.cmlChange !== undefined ? { 'cml-change': o.cmlChange ?? `every=${Math.round(60_000 / o.timeScale)}ms` } : {}),
    ...(o.cmlTokenTtl === undefined ? {} : { 'cml-token-ttl': o.cmlTokenTtl }),
    'station-fault': o.stationFault ?? [],
  };
}

/** Every option is checked before anything starts: a wrong one is exit 2 naming it, and nothing listens. */
async function checkOptions(o: LabOptions): Promise<void> {
  const { parseBehaviour } = await import('../sim/control.js');
  const { SimSpecError } = await import('../sim/faults.js');
  if (o.linboApi && !o.redisUrl) throw new UsageError('--linbo-api needs --redis-url');
  if (o.control) parseControlAddress(o.control);
  try {
    const b = parseBehaviour(behaviourText(o), { name: (f) => `--${f}`, changeEveryMs: 60_000 });
    for (const r of b.fault ?? []) {
      if (r.sim === 'cml' && o.cml === 0) throw new SimSpecError('--fault', r.spec, 'no CML controller runs (add --cml <n>)');
      if (r.sim === 'linbo' && !o.linboApi) throw new SimSpecError('--fault', r.spec, 'the LINBO API does not run (add --linbo-api)');
    }
    if (o.cml === 0 && (o.cmlChange !== undefined || o.cmlTokenTtl !== undefined)) throw new SimSpecError(o.cmlChange !== undefined ? '--cml-change' : '--cml-token-ttl', '', 'no CML controller runs (add --cml <n>)');
  } catch (e) {
    if (e instanceof SimSpecError) throw new UsageError(e.message);
    throw e;
  }
}

async function startParts(o: LabOptions, stateDir: string) {
  const { startSimulator } = await import('../sim/simulator.js');
  let sim: Simulator;
  try {
    sim = await startSimulator({ hosts: o.stations, baseAddress: o.baseAddress, stateDir, port: o.port, wolPort: o.wolPort, bootDelayMs: o.bootDelay, poweredOn: o.poweredOn, timeScale: o.timeScale, latency: { commandMs: o.commandLatency, powershellMs: o.powershellLatency } });
  } catch (e) {
    throw new UsageError(`cannot start the simulator: ${(e as Error).message}`);
  }
  let cml: CmlControllers | undefined;
  let linbo: LinboApi | undefined;
  let linboKeyFile: string | undefined;
  try {
    if (o.cml > 0) cml = await (await import('../sim/cml/index.js')).startCmlControllers({ count: o.cml, labsPerController: o.cmlLabs, stateDir });
    if (o.linboApi) {
      const [{ startLinboApi }, { randomBytes }, { join }, { writeFileSync }] = await Promise.all([import('../sim/linbo/api.js'), import('node:crypto'), import('node:path'), import('node:fs')]);
      const key = randomBytes(16).toString('hex');
      linboKeyFile = join(stateDir, 'linbo-internal-key');
      writeFileSync(linboKeyFile, `${key}\n`, { mode: 0o600 });
      linbo = await startLinboApi({ redisUrl: o.redisUrl!, internalKey: key });
    }
  } catch (e) {
    await Promise.all([cml?.close(), sim.close()]);
    throw e;
  }
  return { sim, cml, linbo, linboKeyFile };
}

export async function startLab(ctx: AppContext, o: LabOptions): Promise<Lab> {
  await checkOptions(o);
  const [{ join }, { xdgStateHome }, { writeFileSync, renameSync }, { SimControls, startControlServer }, { SimSpecError }] = await Promise.all([
    import('node:path'),
    import('../core/config/settings.js'),
    import('node:fs'),
    import('../sim/control.js'),
    import('../sim/faults.js'),
  ]);
  const stateDir = o.stateDir ?? join(xdgStateHome(ctx.env), 'labops', 'sim');
  const { sim, cml, linbo, linboKeyFile } = await startParts(o, stateDir);
  const controls = new SimControls({ cml, linbo, stations: sim }, Math.round(60_000 / o.timeScale));
  let control: ControlServer | undefined;
  const close = async () => {
    await control?.close();
    await linbo?.close();
    await cml?.close();
    await sim.close();
  };
  try {
    await controls.apply(behaviourText(o), (f) => `--${f}`);
    if (o.control) {
      const { address, port } = parseControlAddress(o.control);
      control = await startControlServer(controls, address, port);
    }
  } catch (e) {
    await close();
    throw e instanceof SimSpecError ? new UsageError(e.message) : e;
  }
  const configPath = join(stateDir, 'config.json');
  writeFileSync(`${configPath}.tmp`, `${JSON.stringify({ hosts: sim.inventoryPath, ...(cml ? { cml: { servers: cml.servers } } : {}) }, null, 2)}\n`);
  renameSync(`${configPath}.tmp`, configPath);
  return { sim, cml, linbo, configPath, linboKeyFile, controls, controlUrl: control?.url, close };
}
