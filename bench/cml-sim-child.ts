// Child process for the labs-sync benchmark: runs the simulated CML controllers on their own CPU so the
// two clients measured in the parent compete with neither the simulator nor each other.
// argv: <stateDir> <count> <labsPerController> <latencyMs>. Prints one JSON line when ready; on the
// line `stats` on stdin it prints the controllers' counters; exits when stdin closes.
import { createInterface } from 'node:readline';
import { startCmlControllers } from '../src/sim/cml/index.js';

const [stateDir, count, labs, latency] = process.argv.slice(2);
const sim = await startCmlControllers({ count: Number(count), labsPerController: Number(labs), stateDir: stateDir!, latencyMs: Number(latency) });
process.stdout.write(`${JSON.stringify({ configPath: sim.configPath, caFile: sim.caFile, servers: sim.servers })}\n`);
const rl = createInterface({ input: process.stdin });
rl.on('line', (l) => {
  if (l.trim() === 'stats') {
    const total = { connections: 0, requests: 0, logins: 0 };
    for (const c of sim.controllers) {
      total.connections += c.stats.connections;
      total.requests += c.stats.requests;
      total.logins += c.stats.logins;
    }
    process.stdout.write(`${JSON.stringify(total)}\n`);
  }
});
rl.on('close', () => void sim.close().then(() => process.exit(0)));
