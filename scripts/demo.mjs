#!/usr/bin/env node
// The README's first command: start a simulated lab on loopback, set up the embedded SQLite store and
// run labops' main job against it. Everything stays on 127.0.0.0/8 and in a temp directory.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/labops.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'labops-demo-'));
const hosts = Number(process.env.DEMO_HOSTS ?? 20);
const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config') };
const step = (title) => process.stderr.write(`\n== ${title}\n`);
const labops = (...args) => {
  process.stderr.write(`$ labops ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', env });
  return r.status;
};

step(`starting ${hosts} simulated Lab Stations (powered off) on 127.0.1.x`);
const sim = spawn(process.execPath, [bin, 'sim', '--hosts', String(hosts), '--state-dir', join(dir, 'sim'), '--port', '0', '--boot-delay', '1500ms'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
const inventory = await new Promise((resolve, reject) => {
  let out = '';
  sim.stdout.on('data', (c) => {
    out += c;
    if (out.includes('\n')) resolve(out.split('\n')[0].trim());
  });
  sim.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
});
let code = 1;
try {
  step('creating the embedded SQLite store');
  labops('db', 'migrate');
  step('waking the whole fleet and validating the boot');
  code = labops('--hosts', inventory, 'wol', '--all', '--interval', '1s', '--timeout', '1s');
  step('waking it again: every station is already up');
  labops('--hosts', inventory, 'wol', '--all', '--interval', '1s', '--timeout', '1s');
} finally {
  sim.kill('SIGTERM');
  await new Promise((r) => sim.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
process.stderr.write(code === 0 ? '\ndemo finished: every simulated station woke\n' : `\ndemo finished with exit code ${code}\n`);
process.exit(code);
