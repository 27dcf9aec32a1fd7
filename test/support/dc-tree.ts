// A linuxmuster-like file tree in a temp dir for the DC-file tests: the hook config, delta CSV,
// /etc/dhcp/{dhcpd.conf,devices.conf,devices/<school>.conf} and the hook log.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from './tmp.js';
import { run } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';

export const FIXTURES = new URL('../fixtures/linbo/', import.meta.url);
export const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
export const fixturePath = (name: string): string => new URL(name, FIXTURES).pathname;

export interface DcTree {
  root: string;
  conf: string;
  delta: string;
  devicesDir: string;
  devicesFile: string;
  devicesConf: string;
  dhcpdConf: string;
  log: string;
  cleanup(): void;
  write(path: string, data: string | Uint8Array): void;
}

export interface DcTreeOptions {
  school?: string;
  ip?: string;
  /** dhcpd.conf includes devices.conf (default true) */
  included?: boolean;
  dhcp?: string;
  delta?: string;
  /** extra config lines */
  confExtra?: string[];
  /** write no config file */
  noConf?: boolean;
}

export function dcTree(o: DcTreeOptions = {}): DcTree {
  const dir = tempDir('labops-dc-');
  const school = o.school ?? 'default-school';
  const root = dir.path;
  const t: DcTree = {
    root,
    conf: join(root, 'etc', 'linbo-docker-dhcp.conf'),
    delta: join(root, 'etc', 'linuxmuster', 'sophomorix', school, 'linbo-docker.devices.csv'),
    devicesDir: join(root, 'etc', 'dhcp', 'devices'),
    devicesFile: join(root, 'etc', 'dhcp', 'devices', `${school}.conf`),
    devicesConf: join(root, 'etc', 'dhcp', 'devices.conf'),
    dhcpdConf: join(root, 'etc', 'dhcp', 'dhcpd.conf'),
    log: join(root, 'var', 'log', 'linuxmuster', 'linbo-docker-dhcp.log'),
    cleanup: dir.cleanup,
    write(path, data) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, data);
    },
  };
  if (!o.noConf) {
    t.write(
      t.conf,
      [
        `LINBO_DOCKER_IP=${o.ip ?? '10.0.0.13'}`,
        `SCHOOL=${school}`,
        `DELTA_CSV=${join(root, 'etc', 'linuxmuster', 'sophomorix', '{school}', 'linbo-docker.devices.csv')}`,
        `DEVICES_DHCP=${join(root, 'etc', 'dhcp', 'devices', '{school}.conf')}`,
        `LOGFILE=${t.log}`,
        `DHCPD_CONF=${t.dhcpdConf}`,
        ...(o.confExtra ?? []),
        '',
      ].join('\n'),
    );
  }
  t.write(t.delta, o.delta ?? fixture('linbo-docker.devices.csv.sample'));
  t.write(t.devicesFile, o.dhcp ?? fixture('dhcp-devices.default-school.conf.sample'));
  t.write(t.devicesConf, `include "${t.devicesFile}";\n`);
  t.write(
    t.dhcpdConf,
    [
      'ddns-update-style none;',
      'next-server 10.0.0.1;',
      'subnet 10.0.0.0 netmask 255.255.0.0 {',
      '  option routers 10.0.0.254;',
      '}',
      o.included === false ? '' : `group {\n  include "${t.devicesConf}";\n}`,
      '',
    ].join('\n'),
  );
  return t;
}

export async function cli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { tty?: boolean } = {}) {
  const io = IOStreams.test({ env, tty: opts.tty });
  const code = await run(args, { io, env });
  return { code, stdout: io.outText(), stderr: io.errText() };
}
