// The daemon's status page in a real browser: `labops daemon --listen` against the simulator, opened in
// headless Chromium (Debian's chromium, driven by playwright-core). The page must show the simulator's hosts
// and follow the daemon's event stream: a station switched to local mode and a reservation started through
// the API appear without a reload. Plus the bad input: no token 401, unknown paths 404.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { BIN } from '../support/cli.js';
import { freePort, randomLoopbackBase, requireBinary, waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';

const CHROMIUM = ['/usr/bin/chromium'];
const TOKEN = 'status-page-token-7f3a91';
const RID = 'r-status-page-e2e-1';
const dir = tempDir('labops-status-page-');
let sim: Simulator;
let daemon: ChildProcess;
let out = '';
let err = '';
let base = '';
let browser: Browser | undefined;

function http(method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const r = request(`${base}${path}`, { method, headers: { ...(data ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      // an event stream never ends by itself: its head is enough here
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        resolve({ status: res.statusCode!, headers: res.headers, text: '' });
        res.destroy();
      }
    });
    r.on('error', reject);
    r.end(data);
  });
}

before(async () => {
  sim = await startSimulator({ hosts: 3, baseAddress: randomLoopbackBase(), stateDir: join(dir.path, 'sim'), port: 0, poweredOn: true, bootDelayMs: 100 });
  const cfg = join(dir.path, 'config.json');
  // polled every second; a station writes its heartbeat every 60 s (and at once on a change), so stale after 2 min
  writeFileSync(cfg, JSON.stringify({ heartbeat: { interval: '1s' }, alerts: { 'missing-intervals': 120 } }));
  const tokenFile = join(dir.path, 'api-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const port = await freePort();
  const env = { PATH: process.env.PATH, HOME: dir.path, XDG_CONFIG_HOME: join(dir.path, 'config'), XDG_STATE_HOME: join(dir.path, 'state'), OPS_INTERNAL_AUTH_TOKEN_FILE: tokenFile, NO_COLOR: '1' };
  const args = ['--config', cfg, '--hosts', sim.inventoryPath, '--db', `sqlite:${join(dir.path, 'ops.db')}`, '--json', 'daemon', '--only', 'api,heartbeat', '--listen', `127.0.0.1:${port}`];
  daemon = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  daemon.stdout!.on('data', (c) => (out += c));
  daemon.stderr!.on('data', (c) => (err += c));
  await waitFor(() => /listening/.test(out + err), 'the daemon to listen', 30_000);
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await browser?.close();
  if (daemon) {
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('close', r)));
  }
  await sim?.close();
  dir.cleanup();
});

describe('the token and unknown paths', () => {
  test('without the token every status path is 401; with it (Bearer, the API header, ?token=) 200; unknown paths 404', async () => {
    for (const path of ['/', '/status/fragment', '/status/events']) {
      const r = await http('GET', path);
      assert.equal(r.status, 401, path);
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
      assert.doesNotMatch(r.text, new RegExp(TOKEN));
    }
    assert.equal((await http('GET', '/', { Authorization: 'Bearer wrong-token-123' })).status, 401);
    assert.equal((await http('GET', '/?token=wrong-token-123')).status, 401);
    const ok = await http('GET', '/', { Authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['content-type']), /^text\/html/);
    assert.match(String(ok.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(ok.text, new RegExp(TOKEN), 'the page never carries the token');
    assert.doesNotMatch(ok.text, /\b(src|href)="?https?:/, 'no external assets');
    assert.equal((await http('HEAD', '/', { 'X-Ops-Internal-Token': TOKEN })).status, 200);
    assert.equal((await http('GET', '/status/events', { Authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await http('POST', '/', { Authorization: `Bearer ${TOKEN}` })).status, 405);
    const viaQuery = await http('GET', `/?token=${TOKEN}`);
    assert.equal(viaQuery.status, 303);
    assert.equal(viaQuery.headers.location, './');
    const cookie = String(viaQuery.headers['set-cookie']).split(';')[0]!;
    assert.match(String(viaQuery.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    assert.ok(!cookie.includes(TOKEN), 'the cookie holds a digest, not the token');
    assert.equal((await http('GET', '/status/fragment', { Cookie: cookie })).status, 200);
    for (const path of ['/nope', '/status', '/status/fragment/x', '/index.html']) assert.equal((await http('GET', path, { Authorization: `Bearer ${TOKEN}` })).status, 404, path);
  });
});

describe('in headless Chromium', () => {
  test('shows the simulator hosts, follows a local-mode switch and a reservation without a reload, and is screenshotted', async (t) => {
    const executablePath = requireBinary(t, 'chromium', CHROMIUM);
    if (!executablePath) return;
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) external.push(r.url());
    });
    await page.goto(`${base}/?token=${TOKEN}`);
    assert.equal(page.url(), `${base}/`, 'the token left the address bar');
    const names = sim.stations.map((s) => s.spec.name);
    for (const name of names) await page.locator(`#fleet tr[data-host="${name}"][data-state="ready"]`).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#fleet [data-count="ready"] b').textContent(), '3');
    await page.locator('#loops tr[data-loop="heartbeat"][data-healthy="true"]').waitFor();
    assert.equal(await page.locator('#dc-jobs').count(), 0, 'no DC section where the dc-jobs loop does not run');
    await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 10_000 });
    // a marker a reload would lose
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));

    const target = sim.stations[1]!;
    const localModeCell = page.locator(`#fleet tr[data-host="${target.spec.name}"] td:nth-child(5)`);
    assert.equal(await localModeCell.textContent(), 'no');
    target.runtime!.machine.setLocalMode(true);
    await page.locator(`#fleet tr[data-host="${target.spec.name}"] td:nth-child(5)`, { hasText: 'yes' }).waitFor({ timeout: 20_000 });

    const started = await http('POST', '/api/reservations/start', { 'X-Ops-Internal-Token': TOKEN }, { reservationId: RID, host: sim.stations[0]!.spec.name, wake: true, prepare: true });
    assert.ok(started.status < 500, started.text);
    const chart = page.locator(`#reservations article[data-reservation="${RID}"] svg.timeline`);
    // the page may show the reservation after its first step already; the last one is prepare
    await chart.locator('g.step[data-action="prepare"] rect').waitFor({ timeout: 20_000 });
    const actions = await chart.locator('g.step').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-action')));
    assert.deepEqual(actions.slice(-2), ['wake', 'prepare'], 'one bar per journalled step');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 42, 'updated in place, not reloaded');

    const shot = join(dir.path, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    assert.ok(png.length > 1000, `screenshot of ${png.length} bytes`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    if (process.env.LABOPS_STATUS_SCREENSHOT) writeFileSync(process.env.LABOPS_STATUS_SCREENSHOT, png);
    assert.deepEqual(external, [], 'the page loads nothing from elsewhere');
    assert.doesNotMatch(await page.content(), new RegExp(TOKEN));
    assert.doesNotMatch(out + err, new RegExp(TOKEN), 'the daemon never logs the token');
  });
});
