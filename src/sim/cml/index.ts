// startCmlControllers: several simulated CML controllers on loopback with one self-signed certificate,
// plus a labops config snippet (cml.servers) and a password file so `labops labs sync` can reach them.
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../../core/fs/atomic-write.js';
import { join } from 'node:path';
import { simCertificate } from './cert.js';
import { SimCmlController, type SimCmlOptions } from './controller.js';
import { loopbackAddresses } from '../simulator.js';

export { SimCmlController } from './controller.js';
export type { Failure, FailureKind, FailureTarget, SimLab, SimCmlOptions } from './controller.js';

export interface CmlControllersOptions {
  count: number;
  labsPerController: number;
  stateDir: string;
  /** controllers on consecutive loopback addresses from here; default all on 127.0.0.1 */
  baseAddress?: string;
  /** first port; consecutive ports follow. 0 (default) picks free ports */
  port?: number;
  /** the admin password the controllers accept (default admin-pw) */
  password?: string;
  tokenTtlMs?: number;
  changeEveryMs?: number;
  latencyMs?: number;
  flavor?: SimCmlOptions['flavor'];
  now?: () => number;
  idPrefix?: string;
}

export interface CmlControllers {
  controllers: SimCmlController[];
  /** PEM that verifies every controller */
  caFile: string;
  passwordFile: string;
  /** {"cml":{"servers":[…]}} for the labops config file */
  configPath: string;
  servers: { id: string; name: string; url: string; username: string; password: string; ca: string }[];
  close(): Promise<void>;
}

export async function startCmlControllers(o: CmlControllersOptions): Promise<CmlControllers> {
  const dir = join(o.stateDir, 'cml');
  mkdirSync(dir, { recursive: true });
  const addresses = o.baseAddress ? loopbackAddresses(o.baseAddress, o.count) : Array.from({ length: o.count }, () => '127.0.0.1');
  const tls = simCertificate(dir, addresses);
  const password = o.password ?? 'admin-pw';
  const prefix = o.idPrefix ?? 'sim-cml-';
  const controllers: SimCmlController[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const id = `${prefix}${String(i + 1).padStart(2, '0')}`;
      const c = new SimCmlController({
        id,
        address: addresses[i],
        port: o.port ? o.port + i : 0,
        tls,
        labs: o.labsPerController,
        flavor: o.flavor,
        tokenTtlMs: o.tokenTtlMs,
        latencyMs: o.latencyMs,
        changeEveryMs: o.changeEveryMs,
        now: o.now,
        users: [
          { username: 'admin', password, fullname: 'Dr. Super User', admin: true },
          { username: 'jdoe', password: 'jdoe-pw', fullname: 'Jane Doe', admin: false },
        ],
      });
      controllers.push(await c.start());
    }
  } catch (e) {
    await Promise.all(controllers.map((c) => c.close()));
    throw e;
  }
  const passwordFile = join(dir, 'admin-password');
  writeFileAtomic(passwordFile, `${password}\n`, { mode: 0o600 });
  const servers = controllers.map((c) => ({ id: c.id, name: `Simulated CML ${c.id.slice(prefix.length)}`, url: c.url, username: 'admin', password: `file:${passwordFile}`, ca: tls.certFile }));
  const configPath = join(dir, 'config.json');
  writeFileAtomic(configPath, `${JSON.stringify({ cml: { servers } }, null, 2)}\n`);
  return {
    controllers,
    caFile: tls.certFile,
    passwordFile,
    configPath,
    servers,
    close: async () => {
      await Promise.all(controllers.map((c) => c.close()));
    },
  };
}
