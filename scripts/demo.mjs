#!/usr/bin/env node
// The README's first command: start a simulated lab on loopback and run labops' main job against it; the
// embedded SQLite store is created by the first command that stores something. Everything stays on
// 127.0.0.0/8 (a 127.x.y.0/24 of the demo's own, since other programs may use 127.0.1.x) and in a temp directory.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/labops.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'labops-demo-'));
const hosts = Number(process.env.DEMO_HOSTS ?? 20);
const base = process.env.DEMO_BASE_ADDRESS ?? `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}.1`;
const env = { ...process.env, XDG_STATE_HOME: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config') };
const step = (title) => process.stderr.write(`\n== ${title}\n`);
const labops = (...args) => {
  process.stderr.write(`$ labops ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', env });
  return r.status;
};

step(`starting ${hosts} simulated Lab Stations (powered off) from ${base}`);
const sim = spawn(process.execPath, [bin, 'sim', '--stations', String(hosts), '--base-address', base, '--cml', '2', '--cml-labs', '10', '--time-scale', '60', '--state-dir', join(dir, 'sim'), '--port', '0', '--boot-delay', '1500ms'], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const config = await new Promise((resolve, reject) => {
  let out = '';
  sim.stdout.on('data', (c) => {
    out += c;
    const lines = out.split('\n');
    if (lines.length > 2) resolve(lines[1].trim());
  });
  sim.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
});
const results = [];
const run = (title, ...args) => {
  step(title);
  const code = labops('--config', config, ...args);
  results.push([title, code]);
  return code;
};
let code = 1;
try {
  run('waking the whole fleet and validating the boot', 'wol', '--all', '--interval', '1s', '--timeout', '1s');
  const others = Array.from({ length: hosts - 1 }, (_, i) => `sim-ws-${String(i + 2).padStart(3, '0')}`);
  const reservation = '0xdemo00000000000000000000000000000000000000000000000000000000001';
  run('starting a reservation on sim-ws-001 (wake, then prepare-session; journaled)', 'reserve', 'start', reservation, '--host', 'sim-ws-001', '--lab', '1', '--guard-grace', '30');
  run('preparing a clean session on every other station (WinRM, NTLM with message encryption)', 'exec', ...others, '--', 'prepare-session', '--guard-grace=30');
  run('polling the heartbeats into the store (created on first use)', 'heartbeat', 'poll', '--all');
  run('the fleet as the store sees it', 'heartbeat', 'show');
  run('syncing the labs of two simulated CML controllers', 'labs', 'sync');
  run('ending the reservation (release, then power off; journaled)', '--yes', 'reserve', 'end', reservation, '--host', 'sim-ws-001', '--power', 'shutdown', '--power-arg=--delay=0');
  run('the reservation timeline from reservation_operations', 'reserve', 'log', reservation);
  run('releasing the other sessions', 'exec', ...others, '--', 'release-session');
  run('powering the rest of the fleet down', '--yes', 'exec', ...others, '--', 'power', 'shutdown', '--delay=0');
  code = results.every(([, c]) => c === 0) ? 0 : 1;
  step('summary');
  for (const [title, c] of results) process.stderr.write(`  ${c === 0 ? 'ok  ' : `FAIL (exit ${c})`}  ${title}\n`);
} finally {
  sim.kill('SIGTERM');
  await new Promise((r) => sim.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
process.stderr.write(code === 0 ? '\ndemo finished: the whole cycle ran against the simulated lab\n' : `\ndemo finished with exit code ${code}\n`);
process.exit(code);
