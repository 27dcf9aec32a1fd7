// A real Samba AD database in a temp dir (samba-tool domain provision --targetdir, about 6-12 s), for
// ldbsearch/ldbmodify tests. Returns the sam.ldb path, or undefined when Samba is not installed
// (requireBinary: a skip locally, a failure under CI=true).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './services.js';

export const SAMBA_REALM = 'LAB.TEST';
export const SAMBA_ADMIN_PASSWORD = 'Lab-Test-Pw-1!';

export function provisionSamba(parentDir: string, name = 'samba'): string | undefined {
  const samba = requireBinary(undefined, 'samba-tool', ['/usr/bin/samba-tool']);
  const ldb = requireBinary(undefined, 'ldbsearch', ['/usr/bin/ldbsearch']);
  if (!samba || !ldb) return undefined;
  const target = join(parentDir, name);
  mkdirSync(target, { recursive: true });
  execFileSync(samba, ['domain', 'provision', '--targetdir', target, `--realm=${SAMBA_REALM}`, '--domain=LAB', `--adminpass=${SAMBA_ADMIN_PASSWORD}`, '--use-rfc2307', '--server-role=dc', '--dns-backend=NONE'], { stdio: 'ignore' });
  return join(target, 'private', 'sam.ldb');
}

/** A computer account with a machine password, as a domain join leaves it. */
export function createComputer(samLdb: string, name: string, password: string): void {
  execFileSync('samba-tool', ['computer', 'create', name.toUpperCase(), '-H', samLdb], { stdio: 'ignore' });
  execFileSync('samba-tool', ['user', 'setpassword', `${name.toUpperCase()}$`, `--newpassword=${password}`, '-H', samLdb], { stdio: 'ignore' });
}
