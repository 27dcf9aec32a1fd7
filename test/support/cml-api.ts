// Raw HTTPS calls to a simulated CML controller (what a client tool sends), and Cisco's own client library when a
// checkout of it is at hand: virl2-client is on neither npm nor Debian, so its flows run when LABOPS_VIRL2_CLIENT names
// a directory holding its virl2_client package (Debian's python3-httpx provides its one dependency).
import https from 'node:https';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PYTHON } from './pywinrm.js';

export interface CmlAnswer {
  status: number;
  contentType: string;
  text: string;
  json(): unknown;
}

export function cmlRequest(base: string, ca: string, method: string, path: string, o: { token?: string; body?: unknown } = {}): Promise<CmlAnswer> {
  const url = new URL(`/api/v0${path}`, base);
  const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json: () => JSON.parse(text) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function cmlLogin(base: string, ca: string, username: string, password: string): Promise<string> {
  const r = await cmlRequest(base, ca, 'POST', '/authenticate', { body: { username, password } });
  if (r.status !== 200) throw new Error(`login as ${username}: HTTP ${r.status} ${r.text}`);
  return r.json() as string;
}

/** The virl2-client checkout to use, or undefined (the test says why it skips). */
export function requireVirl2(t: TestContext): string | undefined {
  const dir = process.env.LABOPS_VIRL2_CLIENT;
  if (!dir || !existsSync(join(dir, 'virl2_client', '__init__.py'))) {
    t.skip('set LABOPS_VIRL2_CLIENT to a checkout of CiscoDevNet/virl2-client (it is on neither npm nor Debian)');
    return undefined;
  }
  const r = spawnSync(PYTHON, ['-c', 'import httpx'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('virl2-client needs httpx: apt install python3-httpx');
  return dir;
}

export function runVirl2Flows(dir: string, req: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [join(import.meta.dirname, 'virl2-flows.py')], { env: { ...process.env, PYTHONPATH: dir, NO_PROXY: '*', no_proxy: '*' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`virl2 flows exited ${code}: ${err}`))));
    child.stdin.end(JSON.stringify(req));
  });
}
