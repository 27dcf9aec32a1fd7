// ldbsearch / ldbmodify on Samba's sam.ldb, the way linuxmuster-linbo7's rsync hooks use them (NOTES §5):
// ldbsearch --url=<sam.ldb> "(&(sAMAccountName=<NAME>$))", and ldbmodify with the relax control and the
// two Samba-private controls that let a stored password hash be written as it is
// (1.3.6.1.4.1.7165.4.3.7 and 1.3.6.1.4.1.7165.4.3.12). The LDIF goes in over stdin: the hashes never
// touch a temp file or the command line.
import { accessSync, constants, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { AuthFailed, OperationFailed, TempFail, UsageError } from '../../domain/errors.js';
import { childEnv } from '../child-env.js';

export const LDBMODIFY_CONTROLS = ['--controls=relax:0', '--controls=local_oid:1.3.6.1.4.1.7165.4.3.7:0', '--controls=local_oid:1.3.6.1.4.1.7165.4.3.12:0'];

export interface LdbRecord {
  dn: string;
  /** attribute -> values; `::` (base64) values are kept base64-encoded */
  attrs: Record<string, string[]>;
}

export interface LdbOptions {
  ldbsearch?: string;
  ldbmodify?: string;
  timeoutMs?: number;
  /** the environment the tools' own is built from (PATH, locale; LDB_MODULES_PATH), never passed whole */
  env?: NodeJS.ProcessEnv;
}

/** Parses LDIF records (continuation lines unwrapped; `::` values stay base64). */
export function parseLdif(text: string): LdbRecord[] {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.replace(/\r$/, '');
    if (l.startsWith(' ') && lines.length) lines[lines.length - 1] += l.slice(1);
    else lines.push(l);
  }
  const out: LdbRecord[] = [];
  let cur: LdbRecord | undefined;
  for (const l of lines) {
    if (l === '' || l.startsWith('#')) {
      if (l === '' && cur) cur = undefined;
      continue;
    }
    const m = /^([A-Za-z0-9;.-]+)(::?)\s?(.*)$/.exec(l);
    if (!m) continue;
    const [, name, , value] = m;
    if (name!.toLowerCase() === 'dn') {
      cur = { dn: value!, attrs: {} };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    (cur.attrs[name!] ??= []).push(value!);
  }
  return out;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
  /** set when the tool was killed after the timeout (ms): on a local sam.ldb, another process's transaction */
  timedOutAfterMs?: number;
}

function run(cmd: string, args: string[], o: LdbOptions, input?: string): Promise<RunResult> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: childEnv(o.env ?? process.env, { pass: ['LDB_MODULES_PATH'] }), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${cmd} not found (install ldb-tools)` : e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(timedOut ? { code, stdout, stderr, timedOutAfterMs: timeoutMs } : { code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Missing file → UsageError (2), no read/write permission → AuthFailed (4). */
export function checkSamLdb(samLdb: string): void {
  const denied = () => new AuthFailed(`no permission to read and write ${samLdb}`, { suggestion: 'run as root on the AD DC' });
  try {
    statSync(samLdb);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw denied();
    throw new UsageError(`sam.ldb not found: ${samLdb}`, { suggestion: 'run this on the linuxmuster.net AD DC, or set SAM_LDB / --sam-ldb' });
  }
  try {
    accessSync(samLdb, constants.R_OK | constants.W_OK);
  } catch {
    throw denied();
  }
}

function failure(what: string, samLdb: string, r: RunResult): Error {
  // ldb waits on the tdb lock without a deadline; killed while waiting, it has written nothing
  if (r.timedOutAfterMs !== undefined) {
    const s = Math.round(r.timedOutAfterMs / 100) / 10;
    return new TempFail(`sam.ldb stayed locked for ${s} s: ${what} on ${samLdb} was stopped, nothing changed`, {
      suggestion: 'another process holds a transaction on sam.ldb (samba-tool, a running provisioning); try again when it has finished',
    });
  }
  const text = (r.error ?? (r.stderr.trim() || r.stdout.trim())).split('\n').slice(-2).join(' ');
  if (/permission denied|EACCES|access denied/i.test(text)) return new AuthFailed(`${what} on ${samLdb}: permission denied`, { suggestion: 'run as root on the AD DC' });
  return new OperationFailed(`${what} on ${samLdb} failed: ${text || `exit ${r.code}`}`);
}

export async function ldbSearch(samLdb: string, filter: string, attrs: string[], o: LdbOptions = {}): Promise<LdbRecord[]> {
  const r = await run(o.ldbsearch ?? 'ldbsearch', [`--url=${samLdb}`, '--', filter, ...attrs], o);
  if (r.code !== 0) throw failure('ldbsearch', samLdb, r);
  return parseLdif(r.stdout).filter((rec) => rec.dn !== '');
}

/** `DC=lab,DC=test` → `lab.test`; undefined for a DN with any other kind of component. */
export function dnsNameFromDn(dn: string): string | undefined {
  const parts = dn.split(',').map((p) => /^\s*DC=([^,=]+?)\s*$/i.exec(p)?.[1]);
  if (parts.length === 0 || parts.some((p) => !p)) return undefined;
  return parts.join('.').toLowerCase();
}

/**
 * This DC's AD DNS domain, which Samba calls its realm (lowercased): the rootDSE's defaultNamingContext
 * in sam.ldb. Samba provisions the domain's DN from the realm (dn_from_dns_name(realm.lower())), so the
 * two always agree; unlike `samba-tool domain info`, this needs no running Samba.
 */
export async function readAdDnsDomain(samLdb: string, o: LdbOptions = {}): Promise<string> {
  try {
    statSync(samLdb);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new AuthFailed(`no permission to read ${samLdb}`, { suggestion: 'run as root on the AD DC' });
    throw new UsageError(`sam.ldb not found: ${samLdb}`);
  }
  const notAd = () => new UsageError(`${samLdb} is not the sam.ldb of an AD domain controller (it has no rootDSE naming a domain)`);
  const r = await run(o.ldbsearch ?? 'ldbsearch', [`--url=${samLdb}`, '--scope=base', '--basedn=', '--', 'defaultNamingContext'], o);
  // a plain ldb file has no rootDSE: the base search on the empty DN is refused
  if (r.code !== 0 && /NULL Base DN invalid/.test(r.stdout + r.stderr)) throw notAd();
  if (r.code !== 0) throw failure('ldbsearch', samLdb, r);
  const dn = parseLdif(r.stdout).find((rec) => rec.dn === '')?.attrs.defaultNamingContext?.[0];
  const domain = dn ? dnsNameFromDn(dn) : undefined;
  if (!domain) throw notAd();
  return domain;
}

/** The computer object `<NAME>$`, with its stored credentials (base64), or undefined. */
export async function findComputer(samLdb: string, name: string, o: LdbOptions = {}): Promise<LdbRecord | undefined> {
  const recs = await ldbSearch(samLdb, `(&(sAMAccountName=${name.toUpperCase()}$))`, ['dn', 'unicodePwd', 'supplementalCredentials', 'pwdLastSet'], o);
  return recs[0];
}

export async function ldbModify(samLdb: string, ldif: string, o: LdbOptions = {}): Promise<string> {
  const r = await run(o.ldbmodify ?? 'ldbmodify', [`--url=${samLdb}`, '--nosync', '--verbose', ...LDBMODIFY_CONTROLS], o, ldif);
  if (r.code !== 0) throw failure('ldbmodify', samLdb, r);
  return r.stdout;
}
