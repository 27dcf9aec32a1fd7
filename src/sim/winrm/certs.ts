// Self-signed CA + server certificate for the simulator's HTTPS WinRM, made with the openssl CLI (node:crypto
// cannot issue certificates). Written to the state dir so operators and tests can pass the CA with --ca.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SimCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Creates (or reuses, when it already covers every address) a CA and a server cert for the given IPs. */
export async function ensureSimCertificates(dir: string, addresses: string[], prefix = 'winrm'): Promise<SimCertificates> {
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, `${prefix}-ca.pem`);
  const certFile = join(dir, `${prefix}-cert.pem`);
  const keyFile = join(dir, `${prefix}-key.pem`);
  const sansFile = join(dir, `${prefix}-sans.txt`);
  const wanted = [...new Set(['127.0.0.1', ...addresses])].sort();
  const have = existsSync(sansFile) ? readFileSync(sansFile, 'utf8').split('\n').filter(Boolean) : [];
  const covered = [caFile, certFile, keyFile].every((f) => existsSync(f)) && wanted.every((a) => have.includes(a));
  if (!covered) {
    const tmp = mkdtempSync(join(dir, '.certs-'));
    try {
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      await run('openssl', ['req', '-x509', ...ec, '-keyout', join(tmp, 'ca.key'), '-out', join(tmp, 'ca.pem'), '-days', '3650', '-subj', '/CN=labops simulator CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      await run('openssl', ['req', ...ec, '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'server.csr'), '-subj', '/CN=labops-sim-winrm']);
      writeFileSync(
        join(tmp, 'ext.cnf'),
        `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,${wanted.map((a) => `IP:${a}`).join(',')}\n`,
      );
      await run('openssl', ['x509', '-req', '-in', join(tmp, 'server.csr'), '-CA', join(tmp, 'ca.pem'), '-CAkey', join(tmp, 'ca.key'), '-CAcreateserial',
        '-out', join(tmp, 'cert.pem'), '-days', '825', '-sha256', '-extfile', join(tmp, 'ext.cnf')]);
      writeFileSync(join(tmp, 'sans.txt'), wanted.join('\n') + '\n');
      // rename into place: readers never see half-written files
      renameSync(join(tmp, 'key.pem'), keyFile);
      renameSync(join(tmp, 'cert.pem'), certFile);
      renameSync(join(tmp, 'ca.pem'), caFile);
      renameSync(join(tmp, 'sans.txt'), sansFile);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { caFile, certFile, keyFile, ca: readFileSync(caFile), cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
