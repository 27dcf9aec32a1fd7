// startCmlControllers: several simulated CML controllers on loopback with one self-signed certificate and one fault
// plan, plus a labops config snippet (cml.servers) and a password file so `labops labs sync` can reach them.
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../../core/fs/atomic-write.js';
import { join } from 'node:path';
import { simCertificate } from './cert.js';
import { SimCmlController, type SimCmlOptions } from './controller.js';
import { loopbackAddresses } from '../simulator.js';
import { FaultPlan, parseLatency, type FaultRule } from '../faults.js';
import { DEFAULT_CHANGE, type ChangeSpec } from './world.js';

export { SimCmlController } from './controller.js';
export type { SimLab, SimCmlOptions } from './controller.js';
export { CmlWorld, parseChange, formatChange, DEFAULT_CHANGE, type ChangeSpec } from './world.js';

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
  /** shorthand for one change step every this many ms with the default rates (see `change`) */
  changeEveryMs?: number;
  change?: ChangeSpec;
  /** shorthand for the latency cml.any=<ms> */
  latencyMs?: number;
  /** fault rules from the start (`labops sim --fault cml.…`) */
  faults?: FaultRule[];
  flavor?: SimCmlOptions['flavor'];
  now?: () => number;
  idPrefix?: string;
}

export interface CmlControllers {
  controllers: SimCmlController[];
  /** the faults and latency every controller applies */
  faults: FaultPlan;
  /** PEM that verifies every controller */
  caFile: string;
  passwordFile: string;
  /** {"cml":{"servers":[…]}} for the labops config file */
  configPath: string;
  servers: { id: string; name: string; url: string; username: string; password: string; ca: string }[];
  close(): Promise<void>;
}

function plan(o: CmlControllersOptions): FaultPlan {
  const faults = new FaultPlan('cml', { now: o.now });
  if (o.latencyMs) faults.setLatency(parseLatency(`cml.any=${o.latencyMs}ms`));
  faults.setFaults(o.faults ?? []);
  return faults;
}

export async function startCmlControllers(o: CmlControllersOptions): Promise<CmlControllers> {
  const dir = join(o.stateDir, 'cml');
  mkdirSync(dir, { recursive: true });
  const addresses = o.baseAddress ? loopbackAddresses(o.baseAddress, o.count) : Array.from({ length: o.count }, () => '127.0.0.1');
  const tls = simCertificate(dir, addresses);
  const password = o.password ?? 'admin-pw';
  const prefix = o.idPrefix ?? 'sim-cml-';
  const faults = plan(o);
  const change = o.change ?? (o.changeEveryMs ? { everyMs: o.changeEveryMs, ...DEFAULT_CHANGE } : undefined);
  const controllers: SimCmlController[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const id = `${prefix}${String(i + 1).padStart(2, '0')}`;
      const users = [
        { username: 'admin', password, fullname: 'Dr. Super User', admin: true, groups: [] },
        { username: 'jdoe', password: 'jdoe-pw', fullname: 'Jane Doe', admin: false, groups: ['teaching'] },
        { username: 'asmith', password: 'asmith-pw', fullname: 'Alex Smith', admin: false, groups: ['teaching'] },
      ];
      const c = new SimCmlController({ id, address: addresses[i], port: o.port ? o.port + i : 0, tls, labs: o.labsPerController, flavor: o.flavor, tokenTtlMs: o.tokenTtlMs, faults, change, now: o.now, users });
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
    faults,
    caFile: tls.certFile,
    passwordFile,
    configPath,
    servers,
    close: async () => {
      await Promise.all(controllers.map((c) => c.close()));
    },
  };
}
