// labops sim: start the lab simulator on loopback and keep it running until Ctrl-C or SIGTERM.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';

export interface SimOptions {
  hosts: number;
  baseAddress: string;
  stateDir?: string;
  port: number;
  wolPort: number;
  bootDelay: number;
  poweredOn?: boolean;
}

export function registerSim(parent: Command, f: Factory, run: (f: Factory, o: SimOptions) => Promise<void> = runSim): Command {
  const cmd = parent
    .command('sim')
    .summary('run simulated Lab Stations on loopback for demos, tests and benchmarks')
    .description(
      'Start N simulated Lab Station hosts on consecutive 127.0.1.x addresses. Each starts powered off and ' +
        'answers nothing until a magic packet for its MAC reaches the simulator (UDP on 127.0.0.1); after the ' +
        'boot delay it accepts TCP on its port. A seed-format hosts.json for the stations is written to the ' +
        'state directory and its path printed. Runs until interrupted. Nothing leaves 127.0.0.0/8.',
    )
    .option('--hosts <n>', 'number of stations', intArg(1, 60000), 10)
    .option('--base-address <ip>', 'first station address (inside 127.0.0.0/8)', '127.0.1.1')
    .option('--state-dir <dir>', 'where hosts.json and station files go (default $XDG_STATE_HOME/labops/sim)')
    .option('--port <n>', 'station service port (0 = a free port per station)', intArg(0, 65535), 5985)
    .option('--wol-port <n>', 'UDP port for magic packets (0 = a free port)', intArg(0, 65535), 0)
    .option('--boot-delay <dur>', 'time from magic packet to a running station', durationArg, 2000)
    .option('--powered-on', 'start with every station running')
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
    sim = await startSimulator({ hosts: o.hosts, baseAddress: o.baseAddress, stateDir, port: o.port, wolPort: o.wolPort, bootDelayMs: o.bootDelay, poweredOn: o.poweredOn });
  } catch (e) {
    const { UsageError } = await import('../../domain/errors.js');
    throw new UsageError(`cannot start the simulator: ${(e as Error).message}`);
  }
  const first = sim.stations[0]!.spec.address;
  const last = sim.stations[sim.stations.length - 1]!.spec.address;
  if (f.io.json) {
    f.io.printJson({
      inventory: sim.inventoryPath,
      stateDir: sim.stateDir,
      wol: { address: sim.wolAddress, port: sim.wolPort },
      hosts: sim.stations.map((s) => ({ name: s.name, address: s.spec.address, mac: s.spec.mac, port: s.port, state: s.state })),
    });
  } else {
    f.io.out(sim.inventoryPath);
    f.io.info(`${sim.stations.length} simulated station(s) on ${first}–${last}, magic packets to ${sim.wolAddress}:${sim.wolPort}`);
    f.io.info(`try: labops --hosts ${sim.inventoryPath} wol --all --interval 1s`);
  }
  await new Promise<void>((resolve) => {
    if (f.signal.aborted) return resolve();
    f.signal.addEventListener('abort', () => resolve(), { once: true });
    process.once('SIGTERM', () => resolve());
  });
  await sim.close();
}
