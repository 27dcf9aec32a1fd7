// The API cannot be held open by slow or unauthenticated clients (issue 24 item 1), on loopback against
// `labops daemon --only api`: a bounded run of slow clients (a body trickled without a token, with one, headers
// that never end, nothing at all, an idle keep-alive) where every connection is closed within its configured
// bound while /health answers throughout from another address; the per-client cap; and event streams, which
// do not count against the connection cap.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { randomLoopbackBase, waitFor } from '../support/services.js';
import { openSse, type SseStream } from '../support/sse.js';
import { tempDir } from '../support/tmp.js';

const TOKEN = 'slow-client-token-0123456789';
/** configured: header and body 1 s each, keep-alive 1 s; Node checks the header and request deadlines every second */
const HEADER_MS = 1000;
const BODY_MS = 1000;
const KEEPALIVE_MS = 1000;
const CHECK_MS = 1000;
/** scheduling slack on a loaded two-core machine */
const SLACK_MS = 1500;

const dir = tempDir('labops-slow-');
const controller = new RunSignals();
let daemon: Promise<number>;
let host = '';
let port = 0;
let clientAddress = '';
let healthAddress = '';

before(async () => {
  const b = randomLoopbackBase();
  const prefix = b.replace(/\.1$/, '');
  [host, clientAddress, healthAddress] = [`${prefix}.1`, `${prefix}.2`, `${prefix}.3`];
  const inventory = join(dir.path, 'hosts.json');
  // a station nobody answers for: its stream polls fail (error events) and the stream stays open
  writeFileSync(inventory, JSON.stringify({ hosts: [{ name: 'ws-nowhere', address: `${prefix}.9`, winrm_user: 'u', winrm_pass: 'env:NOPE_PW', winrm_port: 1 }] }));
  const config = join(dir.path, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      api: { 'header-timeout': `${HEADER_MS}ms`, 'body-timeout': `${BODY_MS}ms`, 'keep-alive-timeout': `${KEEPALIVE_MS}ms`, 'max-connections': 24, 'max-connections-per-client': 16, 'stream-keepalive': '1s' },
    }),
  );
  const io = IOStreams.test();
  const env = { HOME: '/nonexistent', XDG_CONFIG_HOME: dir.path, XDG_STATE_HOME: dir.path, OPS_INTERNAL_AUTH_TOKEN: TOKEN, NOPE_PW: 'pw', OPS_HEARTBEAT_SSE_INTERVAL_SECONDS: '5' };
  daemon = run(['--config', config, '--hosts', inventory, '--json', 'daemon', '--only', 'api', '--listen', `${host}:0`], { io, env, signals: controller });
  await waitFor(() => /listening/.test(io.outText()), 'the API to listen', 20_000);
  port = Number(new URL(JSON.parse(io.outText().trim().split('\n')[0]!).listening).port);
});

after(async () => {
  controller.receive('SIGINT');
  await daemon;
  dir.cleanup();
});

interface Slow {
  what: string;
  /** configured bound: the connection must be closed this long after its last complete part was sent */
  boundMs: number;
  socket: Socket;
  openedAt: number;
  closedAt?: number;
  answer: string;
  trickle?: NodeJS.Timeout;
}

function slowClient(what: string, boundMs: number, first: string, trickleByte?: string): Slow {
  const socket = connect({ host, port, localAddress: clientAddress });
  const s: Slow = { what, boundMs, socket, openedAt: Date.now(), answer: '' };
  socket.on('connect', () => {
    if (first) socket.write(first);
    if (trickleByte) s.trickle = setInterval(() => !socket.destroyed && socket.write(trickleByte), 300);
  });
  socket.on('data', (d) => (s.answer += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => {
    s.closedAt = Date.now();
    clearInterval(s.trickle);
  });
  return s;
}

function health(): Promise<number> {
  return new Promise((resolve) => {
    const r = request({ host, port, path: '/health', localAddress: healthAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    r.on('error', () => resolve(0));
    r.end();
  });
}

const post = (token?: string) =>
  `POST /api/winrm HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n${token ? `X-Ops-Internal-Token: ${token}\r\n` : ''}\r\n{`;

describe('slow and unauthenticated clients', () => {
  test('a bounded slow-client run: every connection closed within its bound, /health answering throughout', async () => {
    const slow: Slow[] = [];
    for (let i = 0; i < 3; i++) {
      slow.push(slowClient('body without a token (401 from the headers)', CHECK_MS, post(), 'x'));
      slow.push(slowClient('body with the token, trickled (408)', BODY_MS + CHECK_MS, post(TOKEN), 'x'));
      slow.push(slowClient('headers that never end', HEADER_MS + CHECK_MS, 'POST /api/winrm HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a'));
      slow.push(slowClient('nothing sent', HEADER_MS + CHECK_MS, ''));
      slow.push(slowClient('idle keep-alive after one request', KEEPALIVE_MS + CHECK_MS, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    }
    const statuses: number[] = [];
    const polling = (async () => {
      while (slow.some((s) => s.closedAt === undefined) && statuses.length < 400) {
        statuses.push(await health());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor(() => slow.every((s) => s.closedAt !== undefined), 'every slow connection to be closed', 15_000);
    await polling;
    for (const s of slow) {
      const held = s.closedAt! - s.openedAt;
      assert.ok(held <= s.boundMs + SLACK_MS, `${s.what}: held ${held} ms, bound ${s.boundMs} ms (+${SLACK_MS} ms slack)`);
    }
    const answers = (what: string) => slow.filter((s) => s.what === what).map((s) => s.answer.split('\r\n')[0]);
    assert.deepEqual(answers('body without a token (401 from the headers)'), Array(3).fill('HTTP/1.1 401 Unauthorized'));
    assert.deepEqual(answers('body with the token, trickled (408)'), Array(3).fill('HTTP/1.1 408 Request Timeout'));
    assert.deepEqual(answers('idle keep-alive after one request'), Array(3).fill('HTTP/1.1 200 OK'));
    assert.ok(statuses.length >= 3, `only ${statuses.length} /health probes`);
    assert.deepEqual([...new Set(statuses)], [200], '/health answered every probe');
  });

  test('connections are capped per client address; another address is still served', async () => {
    const held = Array.from({ length: 16 }, () => slowClient('held', 0, 'GET /health HTTP/1.1\r\nX-Slow: ', 'a'));
    try {
      await waitFor(() => held.every((s) => s.socket.readyState === 'open'), 'the held connections');
      const extra = slowClient('over the cap', 0, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => extra.closedAt !== undefined, 'the connection over the cap to be refused', 5000);
      assert.match(extra.answer, /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*\{"error": ?"Too many connections"\}/);
      assert.equal(await health(), 200, 'another client address is not held up');
    } finally {
      for (const s of held) s.socket.destroy();
    }
  });

  test('event streams do not count against the connection cap (30 streams, cap 24): the API keeps answering', async () => {
    const streams: SseStream[] = [];
    try {
      for (let i = 0; i < 30; i++) streams.push(await openSse(`http://${host}:${port}/api/heartbeat/stream?host=ws-nowhere`, { 'X-Ops-Internal-Token': TOKEN }));
      assert.deepEqual([...new Set(streams.map((s) => s.status))], [200]);
      await Promise.all(streams.map((s) => s.waitFor((f) => f.event === 'error' || f.comments.includes('keep-alive'))));
      for (let i = 0; i < 5; i++) assert.equal(await health(), 200);
      assert.ok(streams.every((s) => s.ended === undefined));
    } finally {
      for (const s of streams) s.close();
    }
  });
});
