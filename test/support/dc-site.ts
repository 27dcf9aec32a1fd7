// A linuxmuster DC file tree in a temp dir for the provisioning tests: sophomorix dir with the master
// devices.csv, /etc/dhcp, the hooks dir with the real wrapper (the one `labops dc setup` writes, as in
// examples/50-linbo-docker-dhcp, here running a `labops` shim by its path -> labops dhcp-patch), the hook config
// and the worker config pointing at the import-devices test stand-in and the given sam.ldb.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, fixturePath } from './dc-tree.js';
import { hookWrapper } from '../../src/ops/dc-setup.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Site {
  root: string;
  master: string;
  delta: string;
  dhcpFile: string;
  lock: string;
  env: NodeJS.ProcessEnv;
}

export interface SiteOptions {
  school?: string;
  master?: string;
  importScript?: string;
  /** extra worker config lines */
  workerExtra?: string[];
}

let siteNo = 0;
/** A DC tree: sophomorix dir, /etc/dhcp, the hooks dir with the real wrapper, both config files. */
export function makeSite(workDir: string, samLdb: string, o: SiteOptions = {}): Site {
  const school = o.school ?? 'default-school';
  const root = join(workDir, `site${siteNo++}`);
  const sop = join(root, 'sophomorix');
  const dhcp = join(root, 'dhcp');
  const hooks = join(root, 'hooks');
  const bin = join(root, 'bin');
  for (const d of [join(sop, school), join(dhcp, 'devices'), hooks, bin]) mkdirSync(d, { recursive: true });
  const master = join(sop, school, school === 'default-school' ? 'devices.csv' : `${school}.devices.csv`);
  writeFileSync(master, o.master ?? fixture('devices.csv.sample'));
  writeFileSync(join(bin, 'labops'), `#!/bin/sh\ncd "${ROOT}" && exec "${process.execPath}" --import tsx "${fixturePath('labops-src.ts')}" "$@"\n`, { mode: 0o755 });
  writeFileSync(join(hooks, '50-linbo-docker-dhcp'), hookWrapper([join(bin, 'labops')]));
  chmodSync(join(hooks, '50-linbo-docker-dhcp'), 0o755);
  writeFileSync(join(dhcp, 'dhcpd.conf'), `subnet 10.0.0.0 netmask 255.255.0.0 {\n}\ngroup {\n  include "${join(dhcp, 'devices.conf')}";\n}\n`);
  const hookConf = join(root, 'linbo-docker-dhcp.conf');
  writeFileSync(hookConf, [
    'LINBO_DOCKER_IP=10.0.0.13',
    `DELTA_CSV=${sop}/{school}/linbo-docker.devices.csv`,
    `DEVICES_DHCP=${dhcp}/devices/{school}.conf`,
    `LOGFILE=${root}/linbo-docker-dhcp.log`,
    `DHCPD_CONF=${dhcp}/dhcpd.conf`,
    '',
  ].join('\n'));
  // labops runs the import script with an environment of its own (PATH, locale), not its own: the stand-in's
  // settings are baked into a wrapper, as a real site's are in its files
  const importWrapper = join(bin, 'import-devices');
  const standIn = { FAKE_LMN_SOPHOMORIX: sop, FAKE_LMN_DHCP: dhcp, FAKE_LMN_HOOKS: hooks, FAKE_SAM_LDB: samLdb, LINBO_DOCKER_DHCP_CONF: hookConf };
  writeFileSync(
    importWrapper,
    `#!/bin/sh\n${Object.entries(standIn).map(([k, v]) => `export ${k}='${v}'`).join('\n')}\nexec '${o.importScript ?? fixturePath('fake-import-devices.mjs')}' "$@"\n`,
    { mode: 0o755 },
  );
  const workerConf = join(root, 'macct-worker.conf');
  const lock = join(root, 'lock', 'linbo-provision.lock');
  writeFileSync(workerConf, [
    `SCHOOL=${school}`,
    `DEVICES_CSV_MASTER=${sop}/{school}/devices.csv`,
    `DEVICES_CSV_DELTA=${sop}/{school}/linbo-docker.devices.csv`,
    `IMPORT_SCRIPT=${importWrapper}`,
    `PROVISION_LOCK_FILE=${lock}`,
    `DHCP_VERIFY_FILE=${dhcp}/devices/{school}.conf`,
    `SAM_LDB=${samLdb}`,
    'SAMBA_TOOL_AUTH=-U administrator%secret',
    ...(o.workerExtra ?? []),
    '',
  ].join('\n'));
  return {
    root,
    master,
    delta: join(sop, school, 'linbo-docker.devices.csv'),
    dhcpFile: join(dhcp, 'devices', `${school}.conf`),
    lock,
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      MACCT_WORKER_CONF: workerConf,
      LINBO_DOCKER_DHCP_CONF: hookConf,
      FAKE_LMN_SOPHOMORIX: sop,
      FAKE_LMN_DHCP: dhcp,
      FAKE_LMN_HOOKS: hooks,
      FAKE_SAM_LDB: samLdb,
      NO_COLOR: '1',
    },
  };
}

