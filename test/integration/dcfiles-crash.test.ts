// kill -9 at random points while dhcp-patch rewrites a large devices file: the file must always be
// exactly the old or exactly the new content, and no temp file may appear in the devices directory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dcTree, fixturePath } from '../support/dc-tree.js';
import { planNextServerPatch } from '../../src/domain/dhcpd-conf/index.js';

const HOSTS = 60_000;

function bigFiles(): { dhcp: string; delta: string; wanted: string[] } {
  const dhcp: string[] = ['# subnet 10.0.0.0/8'];
  const delta: string[] = ['# managed-by: linbo-docker — DO NOT EDIT MANUALLY'];
  const wanted: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const name = `pc${i}`;
    const mac = `AA:BB:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`.toUpperCase();
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1 > 254 ? 254 : (i & 255) + 1}`;
    dhcp.push(`host ${name} {`, `  option host-name "${name}";`, `  hardware ethernet ${mac};`, `  fixed-address ${ip};`, '  option extensions-path "win11";', '  option nis-domain "win11";', '}');
    if (i % 2 === 0) {
      delta.push(`lab;${name};win11;${mac};${ip};;;;;;1;;;;`);
      wanted.push(name);
    }
  }
  return { dhcp: `${dhcp.join('\n')}\n`, delta: `${delta.join('\n')}\n`, wanted };
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function runChild(conf: string, killAfterMs: number | undefined): Promise<{ code: number | null; signal: string | null; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixturePath('labops-src.ts'), 'dhcp-patch', '--conf', conf], {
      env: { ...process.env, LABOPS_WAIT_FOR_GO: '1', NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let started = 0;
    let ready = false;
    child.stdout.on('data', (c: Buffer) => {
      if (ready || !c.toString().startsWith('ready')) return;
      ready = true;
      started = performance.now();
      child.stdin.write('go\n');
      if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, elapsedMs: performance.now() - started }));
  });
}

const t = dcTree({ included: false });
after(() => t.cleanup());

test('kill -9 at random points during the write leaves the old or the new file, never a partial one', { timeout: 600_000 }, async () => {
  const { dhcp, delta, wanted } = bigFiles();
  t.write(t.delta, delta);
  const expectedNew = planNextServerPatch(dhcp, wanted, '10.0.0.13').output;
  const oldHash = sha(dhcp);
  const newHash = sha(expectedNew);
  assert.notEqual(oldHash, newHash);

  // Calibrate: how long one full patch takes after the go signal.
  writeFileSync(t.devicesFile, dhcp);
  const full = await runChild(t.conf, undefined);
  assert.equal(full.code, 0);
  assert.equal(sha(readFileSync(t.devicesFile)), newHash);

  const seen = { old: 0, new: 0 };
  const rounds = 24;
  for (let i = 0; i < rounds; i++) {
    writeFileSync(t.devicesFile, dhcp);
    const delay = Math.random() * full.elapsedMs * 1.1;
    await runChild(t.conf, delay);
    const h = sha(readFileSync(t.devicesFile));
    assert.ok(h === oldHash || h === newHash, `round ${i}: killed after ${delay.toFixed(1)} ms, the file is neither old nor new`);
    if (h === oldHash) seen.old++;
    else seen.new++;
    assert.deepEqual(readdirSync(t.devicesDir), ['default-school.conf'], `round ${i}: a temp file appeared in the devices directory`);
  }
  // A run after the kills cleans up temp files the killed runs left beside the devices directory.
  writeFileSync(t.devicesFile, dhcp);
  assert.equal((await runChild(t.conf, undefined)).code, 0);
  const leftovers = readdirSync(`${t.root}/etc/dhcp`).filter((n) => n.includes('labops-tmp'));
  assert.deepEqual(leftovers, []);
  process.stderr.write(`# kill -9 rounds: ${seen.old} left the old file, ${seen.new} the new one (full run ${full.elapsedMs.toFixed(0)} ms)\n`);
});
