// A real Samba AD database in a temp dir for ldbsearch/ldbmodify tests. scripts/install-test-deps.sh provisions
// one domain per Samba version (samba-tool domain provision needs root and 6-12 s); each test copies it. Without
// that template, as root, the test provisions its own. Returns the sam.ldb path, or undefined when Samba is not
// installed (requireBinary: a skip locally, a failure under CI=true).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './services.js';

// The same values as SAMBA_PROVISION in scripts/install-test-deps.sh.
export const SAMBA_REALM = 'LAB.TEST';
export const SAMBA_ADMIN_PASSWORD = 'Lab-Test-Pw-1!';
const TEMPLATE = process.env.LABOPS_SAMBA_TEMPLATE ?? '/var/cache/labops-tests/samba-LAB.TEST';

function samba(args: string[]): string {
  return execFileSync('/usr/sbin/samba', args, { encoding: 'utf8' }).trim();
}

function templateIsCurrent(): boolean {
  try {
    return existsSync(join(TEMPLATE, 'private', 'sam.ldb')) && readFileSync(join(TEMPLATE, 'version'), 'utf8').trim() === samba(['--version']);
  } catch {
    return false;
  }
}

export function provisionSamba(parentDir: string, name = 'samba'): string | undefined {
  const sambaTool = requireBinary(undefined, 'samba-tool', ['/usr/bin/samba-tool']);
  const ldb = requireBinary(undefined, 'ldbsearch', ['/usr/bin/ldbsearch']);
  if (!sambaTool || !ldb) return undefined;
  const target = join(parentDir, name);
  if (templateIsCurrent()) {
    cpSync(TEMPLATE, target, { recursive: true });
    return join(target, 'private', 'sam.ldb');
  }
  if (process.getuid?.() !== 0) {
    const msg = `no current Samba template at ${TEMPLATE}, and provisioning one needs root: run scripts/install-test-deps.sh`;
    if (process.env.CI) throw new Error(msg);
    return undefined;
  }
  mkdirSync(target, { recursive: true });
  execFileSync(sambaTool, ['domain', 'provision', '--targetdir', target, `--realm=${SAMBA_REALM}`, '--domain=LAB', `--adminpass=${SAMBA_ADMIN_PASSWORD}`, '--use-rfc2307', '--server-role=dc', '--dns-backend=NONE'], { stdio: 'ignore' });
  return join(target, 'private', 'sam.ldb');
}

/** A computer account with a machine password, as a domain join leaves it. */
export function createComputer(samLdb: string, name: string, password: string): void {
  execFileSync('samba-tool', ['computer', 'create', name.toUpperCase(), '-H', samLdb], { stdio: 'ignore' });
  execFileSync('samba-tool', ['user', 'setpassword', `${name.toUpperCase()}$`, `--newpassword=${password}`, '-H', samLdb], { stdio: 'ignore' });
}
