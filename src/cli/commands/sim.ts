// labops sim: start the lab simulator on loopback and keep it running until Ctrl-C or SIGTERM.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, floatArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import type { CmlControllers } from '../../sim/cml/index.js';
import type { LinboApi } from '../../sim/linbo/api.js';

export interface SimOptions {
  hosts: number;
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

export function registerSim(parent: Command, f: Factory, run: (f: Factory, o: SimOptions) => Promise<void> = runSim): Command {
  const cmd = parent
    .command('sim')
    .summary('run simulated Lab Stations on loopback for demos, tests and benchmarks')
    .description(
      'Start N simulated Lab Station hosts on consecutive 127.0.1.x addresses. Each starts powered off and ' +
        'answers nothing until a magic packet for its MAC reaches the simulator (UDP on 127.0.0.1); after the ' +
        'boot delay it serves WinRM (HTTP with NTLM and message encryption on its port, HTTPS with Basic and NTLM) backed by a LabStation.exe simulator, and writes heartbeat.json and the other station files under <state-dir>/stations/<name>/. A seed-format hosts.json for the stations is written to the ' +
        'state directory and its path printed. Runs until interrupted. Nothing leaves 127.0.0.0/8.',
    )
    .option('--hosts <n>', 'number of stations', intArg(1, 60000), 10)
    .option('--base-address <ip>', 'first station address (inside 127.0.0.0/8)', '127.0.1.1')
    .option('--state-dir <dir>', 'where hosts.json and station files go (default $XDG_STATE_HOME/labops/sim)')
    .option('--port <n>', 'station service port (0 = a free port per station)', intArg(0, 65535), 5985)
    .option('--wol-port <n>', 'UDP port for magic packets (0 = a free port)', intArg(0, 65535), 0)
    .option('--boot-delay <dur>', 'time from magic packet to a running station', durationArg, 2000)
    .option('--powered-on', 'start with every station running')
    .option('--time-scale <n>', 'simulated seconds per real second on the stations (session guard grace, power delays, heartbeat tick)', floatArg, 1)
    .option('--command-latency <dur>', 'time each LabStation.exe command takes (default 0; status-json on a lab PC: about 300ms)', durationArg, 0)
    .option('--powershell-latency <dur>', 'start-up time of each powershell.exe the station runs (default 0; a lab PC: 300ms-1.5s)', durationArg, 0)
    .option('--linbo-api', 'also start the simulated LINBO Docker internal API (needs --redis-url)')
    .option('--redis-url <url>', 'Redis the simulated LINBO API queues its jobs on (redis://127.0.0.1:6379)')
    .option('--cml <n>', 'also start this many simulated CML controllers (HTTPS, self-signed)', intArg(0, 100), 0)
    .option('--cml-labs <n>', 'labs per simulated CML controller', intArg(0, 10000), 20)
    .action((o: SimOptions) => run(f, o));
  return helpAfter(cmd, 'Example:\n  labops sim --hosts 20 --state-dir /tmp/lab &\n  labops --hosts /tmp/lab/hosts.json wol --all --interval 2s');
}

export async function runSim(f: Factory, o: SimOptions): Promise<void> {
  const [{ startSimulator }, { join }, { xdgStateHome }] = await Promise.all([
    import('../../sim/simulator.js'),
    import('node:path'),
    import('../../core/config/settings.js'),
  ]);
  const stateDir = o.stateDir ?? join(xdgStateHome(f.env), 'labops', 'sim');
  let sim;
  try {
    sim = await startSimulator({ hosts: o.hosts, baseAddress: o.baseAddress, stateDir, port: o.port, wolPort: o.wolPort, bootDelayMs: o.bootDelay, poweredOn: o.poweredOn, timeScale: o.timeScale, latency: { commandMs: o.commandLatency, powershellMs: o.powershellLatency } });
  } catch (e) {
    const { UsageError } = await import('../../domain/errors.js');
    throw new UsageError(`cannot start the simulator: ${(e as Error).message}`);
  }
  let cml: CmlControllers | undefined;
  if (o.cml > 0) {
    const { startCmlControllers } = await import('../../sim/cml/index.js');
    cml = await startCmlControllers({ count: o.cml, labsPerController: o.cmlLabs, stateDir, changeEveryMs: 60_000 / o.timeScale });
  }
  let linbo: LinboApi | undefined;
  if (o.linboApi) {
    const { UsageError } = await import('../../domain/errors.js');
    if (!o.redisUrl) throw new UsageError('--linbo-api needs --redis-url');
    const { startLinboApi } = await import('../../sim/linbo/api.js');
    const { randomBytes } = await import('node:crypto');
    const key = randomBytes(16).toString('hex');
    const { writeFileSync: write } = await import('node:fs');
    write(join(stateDir, 'linbo-internal-key'), `${key}\n`, { mode: 0o600 });
    linbo = await startLinboApi({ redisUrl: o.redisUrl, internalKey: key });
  }
  // One config file for everything the simulator runs: `labops --config <it> …` reaches stations and controllers.
  const { writeFileSync, renameSync } = await import('node:fs');
  const configPath = join(stateDir, 'config.json');
  writeFileSync(`${configPath}.tmp`, `${JSON.stringify({ hosts: sim.inventoryPath, ...(cml ? { cml: { servers: cml.servers } } : {}) }, null, 2)}\n`);
  renameSync(`${configPath}.tmp`, configPath);
  const first = sim.stations[0]!.spec.address;
  const last = sim.stations[sim.stations.length - 1]!.spec.address;
  if (f.io.json) {
    f.io.printJson({
      inventory: sim.inventoryPath,
      config: configPath,
      stateDir: sim.stateDir,
      winrm: { user: sim.winrmUser, passwordFile: sim.passwordFile ?? null, caFile: sim.caFile ?? null },
      heartbeatPathTemplate: sim.heartbeatPathTemplate,
      cml: cml ? cml.servers.map((s) => ({ id: s.id, url: s.url })) : [],
      linboApi: linbo ? { apiUrl: linbo.apiUrl, keyFile: join(stateDir, 'linbo-internal-key') } : null,
      wol: { address: sim.wolAddress, port: sim.wolPort },
      hosts: sim.stations.map((s) => ({ name: s.name, address: s.spec.address, mac: s.spec.mac, port: s.port, httpsPort: s.httpsPort, state: s.state })),
    });
  } else {
    f.io.out(sim.inventoryPath);
    f.io.out(configPath);
    f.io.info(`${sim.stations.length} simulated station(s) on ${first}–${last}, magic packets to ${sim.wolAddress}:${sim.wolPort}; WinRM user ${sim.winrmUser}, HTTPS CA ${sim.caFile}`);
    if (cml) f.io.info(`${cml.controllers.length} simulated CML controller(s): ${cml.servers.map((s) => s.url).join(', ')}`);
    if (linbo) f.io.info(`simulated LINBO API: API_URL=${linbo.apiUrl}, key in ${join(stateDir, 'linbo-internal-key')}`);
    f.io.info(`try: labops --config ${configPath} wol --all --interval 1s`);
  }
  await new Promise<void>((resolve) => {
    if (f.signal.aborted) return resolve();
    f.signal.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
  });
  await linbo?.close();
  await cml?.close();
  await sim.close();
}
