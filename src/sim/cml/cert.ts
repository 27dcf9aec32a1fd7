// A self-signed certificate for the simulated controllers, made with the openssl CLI (as an operator
// would) and cached in the state dir. Its own certificate is the CA file clients trust.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';

export interface SimCert {
  key: string;
  cert: string;
  certFile: string;
}

export function simCertificate(dir: string, hosts: readonly string[]): SimCert {
  const names = [...new Set(['127.0.0.1', 'localhost', ...hosts])].sort();
  const tag = createHash('sha256').update(names.join(',')).digest('hex').slice(0, 12);
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `cml-sim-${tag}.key`);
  const certFile = join(dir, `cml-sim-${tag}.pem`);
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    const tmpKey = `${keyFile}.tmp-${process.pid}`;
    const tmpCert = `${certFile}.tmp-${process.pid}`;
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', tmpKey, '-out', tmpCert, '-days', '825',
        '-subj', '/CN=labops CML simulator', '-addext', `subjectAltName=${san}`, '-addext', 'basicConstraints=critical,CA:TRUE'],
      { stdio: 'ignore' },
    );
    renameSync(tmpKey, keyFile);
    renameSync(tmpCert, certFile);
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}
