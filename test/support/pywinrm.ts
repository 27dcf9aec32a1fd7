// Runs Debian's pywinrm (the independent client) through test/support/pywinrm-run.py. ntlm-auth hashes with
// hashlib's MD4, which OpenSSL 3 only has in the legacy provider, so the child gets an OPENSSL_CONF enabling it.
// The requests CA-bundle variables are dropped because they override pywinrm's server_cert_validation='ignore'.
import { spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { requireBinary } from './services.js';

export const PYTHON = '/usr/bin/python3';

export function requirePywinrm(t: TestContext | undefined): boolean {
  if (!requireBinary(t, 'python3', [PYTHON])) return false;
  const r = spawnSync(PYTHON, ['-c', 'import winrm'], { encoding: 'utf8' });
  if (r.status === 0) return true;
  const msg = 'pywinrm not importable by /usr/bin/python3 (apt install python3-winrm)';
  if (process.env.CI) throw new Error(msg);
  t?.skip(msg);
  return false;
}

export interface PywinrmRequest {
  endpoint: string;
  transport: 'ntlm' | 'basic';
  user: string;
  password: string;
  cert_validation?: 'ignore' | 'validate';
  ca?: string;
  ops: Array<{ kind: 'cmd'; exe: string; args?: string[] } | { kind: 'ps'; script: string }>;
}
export type PywinrmResult = { status_code: number; std_out: string; std_err: string } | { error: string };

export function pythonEnv(dir: string): NodeJS.ProcessEnv {
  const conf = join(dir, 'openssl-legacy.cnf');
  writeFileSync(
    conf,
    'openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\ndefault = default_sect\nlegacy = legacy_sect\n[default_sect]\nactivate = 1\n[legacy_sect]\nactivate = 1\n',
  );
  const env: NodeJS.ProcessEnv = { ...process.env, OPENSSL_CONF: conf, NO_PROXY: '*', no_proxy: '*' };
  delete env.REQUESTS_CA_BUNDLE;
  delete env.CURL_CA_BUNDLE;
  return env;
}

export function runPywinrm(req: PywinrmRequest, env: NodeJS.ProcessEnv, script = join(import.meta.dirname, 'pywinrm-run.py')): Promise<PywinrmResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pywinrm runner exited ${code}: ${err.trim()}`));
      resolve(JSON.parse(out) as PywinrmResult[]);
    });
    child.stdin.end(JSON.stringify(req));
  });
}
