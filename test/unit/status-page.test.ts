// The daemon's status page without a daemon: host states, the HTML (escaped, sections, the step chart) and the
// handler on a real node:http server (the token in its three forms, the redirect that drops it from the
// address, the event stream that says when the fragment changed, paths it leaves to others).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fleetCounts, hostState, type StatusSnapshot } from '../../src/ops/status-page/model.js';
import { escapeHtml, renderFragment, renderPage, timelineSvg } from '../../src/ops/status-page/render.js';
import { COOKIE, cookieValue, createStatusPage, type StatusPage } from '../../src/ops/status-page/handler.js';
import { afterEachRun } from '../../src/app/daemon/status.js';
import type { LoopDef } from '../../src/ops/daemon/supervisor.js';

const NOW = Date.parse('2026-12-03T10:00:00Z');
const EVIL = '<img src=x onerror="alert(1)">&\'';

function snapshot(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    instance: 'dc1:42',
    hosts: [
      { name: 'ws-01', address: '10.0.0.1', state: 'ready', heartbeatAt: '2026-12-03T09:59:30.000Z', localMode: false, localSession: false, issues: [] },
      { name: 'ws-02', address: '10.0.0.2', state: 'never', heartbeatAt: null, localMode: null, localSession: null, issues: [] },
    ],
    alerts: [{ host: 'ws-03', rule: 'not-ready', message: 'station not ready for 5 min', openedAt: '2026-12-03T09:50:00.000Z' }],
    loops: [{ name: 'heartbeat', kind: 'periodic', intervalMs: 60_000, running: false, healthy: false, runs: 4, failures: 2, lastFinishedAt: '2026-12-03T09:59:00.000Z', lastDurationMs: 1500, lastSuccessAt: null, lastError: 'boom' }],
    reservations: [
      {
        id: 'r1',
        host: 'ws-01',
        labId: '7',
        steps: [
          { action: 'wake', status: 'completed', success: true, at: '2026-12-03T09:00:10.000Z', durationMs: 10_000, message: null },
          { action: 'prepare', status: 'failed', success: false, at: '2026-12-03T09:00:20.000Z', durationMs: 5_000, message: 'exit 3' },
        ],
      },
    ],
    problems: [],
    ...over,
  };
}

describe('host state', () => {
  const stale = 180_000;
  test('never reported, stale past the bound (or with no usable time), else ready or not by the summary', () => {
    assert.equal(hostState({ reported: false, ready: null, timestampUtc: null }, NOW, stale), 'never');
    assert.equal(hostState({ reported: true, ready: true, timestampUtc: new Date(NOW - stale).toISOString() }, NOW, stale), 'ready');
    assert.equal(hostState({ reported: true, ready: true, timestampUtc: new Date(NOW - stale - 1).toISOString() }, NOW, stale), 'stale');
    assert.equal(hostState({ reported: true, ready: true, timestampUtc: null }, NOW, stale), 'stale');
    assert.equal(hostState({ reported: true, ready: false, timestampUtc: new Date(NOW).toISOString() }, NOW, stale), 'not-ready');
    assert.equal(hostState({ reported: true, ready: null, timestampUtc: new Date(NOW).toISOString() }, NOW, stale), 'not-ready');
  });
  test('counts', () => {
    assert.deepEqual(fleetCounts(snapshot().hosts), { ready: 1, 'not-ready': 0, stale: 0, never: 1 });
  });
});

describe('render', () => {
  test('every value from the fleet, the store or a loop is escaped', () => {
    const s = snapshot({
      instance: EVIL,
      hosts: [{ name: EVIL, address: EVIL, state: 'ready', heartbeatAt: null, localMode: null, localSession: null, issues: [EVIL] }],
      alerts: [{ host: EVIL, rule: EVIL, message: EVIL, openedAt: EVIL }],
      loops: [{ ...snapshot().loops[0]!, name: EVIL, lastError: EVIL }],
      dc: { waiting: 1, pending: 0, deadLetters: 0, error: EVIL },
      reservations: [{ id: EVIL, host: EVIL, labId: EVIL, steps: [{ action: EVIL, status: EVIL, success: true, at: '2026-12-03T09:00:00Z', durationMs: 1, message: EVIL }] }],
      problems: [EVIL],
    });
    const html = renderPage(s.instance, renderFragment(s), { version: 'v', nonce: 'n' });
    assert.doesNotMatch(html, /<img/);
    assert.doesNotMatch(html, /onerror="/);
    assert.ok(html.includes(escapeHtml(EVIL)));
    assert.equal(escapeHtml(EVIL), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;');
  });

  test('sections: the fleet tiles and rows, alerts, loops with health, no DC section unless given, reservations', () => {
    const html = renderFragment(snapshot());
    assert.match(html, /data-count="ready"><b>1<\/b>/);
    assert.match(html, /data-count="never"><b>1<\/b><span>never reported/);
    assert.match(html, /<tr data-host="ws-02" data-state="never">/);
    assert.match(html, /Open alerts <small>1<\/small>/);
    assert.match(html, /<tr data-loop="heartbeat" data-healthy="false">.*unhealthy.*boom/);
    assert.doesNotMatch(html, /id="dc-jobs"/);
    const dc = renderFragment(snapshot({ dc: { waiting: 4, pending: 1, deadLetters: 2 } }));
    assert.match(dc, /data-count="dc-waiting"><b>4<\/b>/);
    assert.match(dc, /data-count="dc-pending"><b>1<\/b>/);
    assert.match(dc, /tile not-ready" data-count="dc-dead-letters"><b>2<\/b>/);
    assert.match(renderFragment(snapshot({ dc: { waiting: null, pending: null, deadLetters: null, error: 'Redis: connection refused' } })), /data-count="dc-waiting"><b>–<\/b>.*Redis: connection refused/);
  });

  test('the same state renders the same fragment (the stream compares versions)', () => {
    assert.equal(renderFragment(snapshot()), renderFragment(snapshot()));
  });

  test('the timeline: one bar per step on a common axis, ending where the step was journalled, red when it failed', () => {
    const svg = timelineSvg(snapshot().reservations[0]!);
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="\d+" width="([\d.]+)"[^>]*fill="([^"]+)"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]), fill: m[3] }));
    assert.equal(bars.length, 2);
    // 0..20 s over 460 px from x=170: wake 0–10 s, prepare 15–20 s
    assert.deepEqual(bars[0], { x: 170, w: 230, fill: '#2e9d5b' });
    assert.deepEqual(bars[1], { x: 515, w: 115, fill: '#d0433c' });
    assert.match(svg, /<title>prepare failed \(5\.0 s\): exit 3<\/title>/);
    assert.match(svg, />20\.0 s<\/text>/);
    assert.match(timelineSvg({ id: 'r', host: 'h', labId: null, steps: [] }), /No steps journalled/);
    // journalled in whole seconds: the second step's bar starts where the first one ends, not before
    const coarse = timelineSvg({
      id: 'r', host: 'h', labId: null,
      steps: [
        { action: 'wake', status: 'completed', success: true, at: '2026-12-03T09:00:00Z', durationMs: 400, message: null },
        { action: 'prepare', status: 'completed', success: true, at: '2026-12-03T09:00:01Z', durationMs: 1600, message: null },
      ],
    });
    const xs = [...coarse.matchAll(/<rect x="([\d.]+)" y="\d+" width="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(xs, [[170, 92], [262, 368]], '0–0.4 s and 0.4–2.0 s of 2.0 s');
  });

  test('the timeline: an hour between the start and the end phase is a labelled break, not 99 % of the width', () => {
    const svg = timelineSvg({
      id: 'r', host: 'h', labId: null,
      steps: [
        { action: 'wake', status: 'completed', success: true, at: '2026-12-03T09:00:10Z', durationMs: 10_000, message: null },
        { action: 'prepare', status: 'completed', success: true, at: '2026-12-03T09:00:30Z', durationMs: 20_000, message: null },
        { action: 'release', status: 'completed', success: true, at: '2026-12-03T10:00:05Z', durationMs: 5_000, message: null },
      ],
    });
    const xs = [...svg.matchAll(/<rect x="([\d.]+)" y="\d+" width="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    // 35 s of activity over 460 - 28 px (one break): 30 s, then the break, then 5 s
    assert.deepEqual(xs, [[170, 123.4], [293.4, 246.9], [568.3, 61.7]]);
    assert.match(svg, /<g class="break"><line x1="554\.3"[^>]*><\/line><text [^>]*>\+60 min<\/text><\/g>/);
    assert.match(svg, />60 min<\/text><\/svg>$/);
  });
});

describe('handler', () => {
  const TOKEN = 'page-token-123456';
  let server: Server;
  let page: StatusPage;
  let base = '';
  let current = snapshot();
  let reads = 0;
  const logged: string[] = [];

  before(async () => {
    page = createStatusPage({
      snapshot: async () => {
        reads++;
        return current;
      },
      token: TOKEN,
      sampleMs: 50,
      log: (level, m) => logged.push(`${level} ${m}`),
    });
    server = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!(await page.handle(req, res, url))) {
        res.writeHead(404);
        res.end('not mine');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    page.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
      const r = request(`${base}${path}`, { method, headers }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      });
      r.on('error', reject);
      r.end();
    });

  test('the token: none is 401, Bearer, the API header and the cookie let in; a wrong one is 401', async () => {
    assert.equal((await get('/')).status, 401);
    assert.equal((await get('/', { Authorization: 'Bearer nope-nope' })).status, 401);
    assert.equal((await get('/', { Cookie: `${COOKIE}=${TOKEN}` })).status, 401, 'the raw token is not a cookie value');
    assert.equal((await get('/', { Authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await get('/', { 'X-Ops-Internal-Token': TOKEN })).status, 200);
    assert.equal((await get('/status/fragment', { Cookie: `other=1; ${COOKIE}=${cookieValue(TOKEN)}` })).status, 200);
  });

  test('?token= sets the cookie and redirects without the token, keeping other parameters', async () => {
    const r = await get(`/?a=1&token=${TOKEN}`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, './?a=1');
    assert.equal(String(r.headers['set-cookie']), `${COOKIE}=${cookieValue(TOKEN)}; Path=/; HttpOnly; SameSite=Strict`);
    await new Promise((res) => setTimeout(res, 20));
    assert.ok(logged.some((l) => /^info GET \/ 303 \d+ms$/.test(l)), logged.join('\n'));
    assert.ok(!logged.join('\n').includes(TOKEN), 'a request line never holds the query');
  });

  test('the page: a CSP nonce on its only script and style, the fragment inside, HEAD without a body; other methods 405', async () => {
    const r = await get('/', { Authorization: `Bearer ${TOKEN}` });
    const nonce = /script-src 'nonce-([^']+)'/.exec(String(r.headers['content-security-policy']))?.[1];
    assert.ok(nonce);
    assert.equal([...r.text.matchAll(/<script nonce="([^"]+)">/g)].map((m) => m[1]).join(), nonce);
    assert.ok(r.text.includes(renderFragment(current)));
    const head = await get('/', { Authorization: `Bearer ${TOKEN}` }, 'HEAD');
    assert.deepEqual([head.status, head.text], [200, '']);
    assert.equal((await get('/', { Authorization: `Bearer ${TOKEN}` }, 'DELETE')).status, 405);
  });

  test('other paths are left to the server', async () => {
    assert.deepEqual([(await get('/metrics')).text, (await get('/status')).text, (await get('/status/fragment/')).text], ['not mine', 'not mine', 'not mine']);
  });

  test('the event stream: the current version at once, a new one when the state changes, nothing while it does not', async () => {
    const events: string[] = [];
    const ac = new AbortController();
    const res = await fetch(`${base}/status/events`, { headers: { Authorization: `Bearer ${TOKEN}` }, signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const pump = (async () => {
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buf += Buffer.from(value!).toString('utf8');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const m = /^event: update\ndata: (.+)$/m.exec(buf.slice(0, i));
          if (m) events.push(m[1]!);
          buf = buf.slice(i + 2);
        }
      }
    })();
    const wait = async (n: number) => {
      for (let k = 0; k < 200 && events.length < n; k++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(events.length >= n, `${n} update events, got ${events.length}`);
    };
    await wait(1);
    const first = events[0]!;
    const fragment = await get('/status/fragment', { Authorization: `Bearer ${TOKEN}` });
    assert.equal(fragment.headers['x-status-version'], first, 'the event names the version /status/fragment serves');
    const readsBefore = reads;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(reads > readsBefore, 'sampled while watched');
    assert.equal(events.length, 1, 'no event while nothing changes');
    current = snapshot({ alerts: [] });
    page.poke();
    await wait(2);
    assert.notEqual(events[1], first);
    ac.abort();
    await pump;
  });
});

test('afterEachRun: a periodic loop tells the page after each run, failed or not, and keeps its report; a service loop is left alone', async () => {
  let ended = 0;
  let fail = false;
  const def: LoopDef = {
    kind: 'periodic',
    loop: { name: 'x', jitter: 0, intervalMs: () => 1000, deadlineMs: () => 1000, run: async () => { if (fail) throw new Error('boom'); return { n: 1 }; } },
  };
  const wrapped = afterEachRun(def, () => ended++);
  assert.equal(wrapped.kind, 'periodic');
  if (wrapped.kind !== 'periodic') return;
  assert.deepEqual(await wrapped.loop.run(new AbortController().signal), { n: 1 });
  fail = true;
  await assert.rejects(wrapped.loop.run(new AbortController().signal), /boom/);
  assert.equal(ended, 2);
  const service: LoopDef = { kind: 'service', loop: { name: 's', jitter: 0, intervalMs: () => 0, start: async () => {} } };
  assert.equal(afterEachRun(service, () => ended++), service);
});

test('the fragment right after a read is served from it (every open page fetches at once after an update); the page always reads', async () => {
  let reads = 0;
  const page = createStatusPage({ snapshot: async () => (reads++, snapshot()), sampleMs: 60_000 });
  const server = createServer(async (req, res) => void (await page.handle(req, res, new URL(req.url ?? '/', 'http://localhost'))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const a = await fetch(`${base}/status/fragment`);
    const b = await fetch(`${base}/status/fragment`);
    assert.equal(await a.text(), await b.text());
    assert.equal(reads, 1);
    assert.equal((await fetch(`${base}/`)).status, 200, 'no token configured: open');
    assert.equal(reads, 2);
  } finally {
    page.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('poke and close work as plain functions (the daemon hands poke to each loop run)', () => {
  const page = createStatusPage({ snapshot: async () => { throw new Error('not read'); }, sampleMs: 1000 });
  const { poke, close } = page;
  assert.doesNotThrow(() => poke());
  assert.doesNotThrow(() => close());
});
