// Runs the built CLI (dist/, as shipped) in a warm process of its own for benchmarks that time labops in
// process: no TypeScript loader in the way (tsx resolves every lazy import through its hooks thread, ~1 ms
// each, which the shipped bundle never pays). One JSON array of arguments per stdin line; one JSON line back
// per run: {code, ms, stderr}. Exits when stdin closes.
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { run, IOStreams } from '../dist/cli/main.js';

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const io = IOStreams.test();
    const started = performance.now();
    const code = await run(JSON.parse(line), { io, env: { HOME: tmpdir() } });
    const ms = performance.now() - started;
    process.stdout.write(`${JSON.stringify({ code, ms, stderr: code ? `${io.errText()}${io.outText().slice(-2000)}` : '' })}\n`);
  });
});
