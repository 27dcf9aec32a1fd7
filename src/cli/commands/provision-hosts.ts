// labops provision hosts <create|update|delete> <hostname>: one host into linuxmuster's devices.csv
// (via the LINBO Docker delta), import-devices, verify. Adds the `hosts` subcommand to `provision`.
import { Argument, type Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { durationArg, intArg } from '../args.js';
import { act, formerly, renamed } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { ProvisionHostResult, ProvisionPlan } from '../../ops/provision-hosts.js';

export interface ProvisionHostsOptions {
  action: 'create' | 'update' | 'delete';
  hostname: string;
  mac?: string;
  ip?: string;
  room?: string;
  /** the LINBO config / device group */
  group?: string;
  role?: string;
  pxe?: number;
  renameFrom?: string;
  school?: string;
  workerConf?: string;
  master?: string;
  delta?: string;
  importScript?: string;
  samLdb?: string;
  dhcpVerifyFile?: string;
  domain?: string;
  dnsServer?: string;
  lockWait?: number;
  importTimeout?: number;
  dryRun?: boolean;
}

export function registerProvisionHosts(provisionGroup: Command, f: Factory): Command {
  const cmd = provisionGroup
    .command('hosts')
    .summary('create, update or delete a host in devices.csv, run import-devices, verify')
    .description(
      'Provision one host on the linuxmuster AD DC, like the DC worker\'s provision job: under a lock, apply the change ' +
        'to the LINBO Docker delta CSV, merge it into the school\'s devices.csv, check the result with the rules of ' +
        'sophomorix-device (a row that would make it exit 88 stops everything), write both files atomically keeping one ' +
        '.bak generation, run `linuxmuster-import-devices -s <school>`, then verify the AD computer object (ldbsearch on ' +
        'sam.ldb), the DHCP host block and, when a DNS domain is configured, the A record.\n\n' +
        'Paths come from /etc/macct-worker.conf (DEVICES_CSV_MASTER, DEVICES_CSV_DELTA, IMPORT_SCRIPT, PROVISION_LOCK_FILE, ' +
        'DHCP_VERIFY_FILE, LINBO_DOMAIN, SAM_LDB), then the environment, then defaults; flags win. A lock left by a ' +
        'dead process is broken automatically. Asks for confirmation; without a TTY pass --yes.',
    )
    .addArgument(new Argument('<action>', 'what to do').choices(['create', 'update', 'delete']))
    .argument('<hostname>', 'host name (1-15 characters: letters, digits, -)')
    .option('--mac <mac>', 'MAC address (create: required)')
    .option('--ip <ip>', 'IPv4 address, or DHCP (default DHCP)')
    .option('--room <room>', 'room (column 1)')
    .option('--group <group>', 'LINBO config / device group (default nopxe); formerly --config')
    .option('--role <role>', 'sophomorix role (default: keep; empty means classroom-studentcomputer)')
    .option('--pxe <n>', 'PXE flag (default 1 with --config, else 0)', intArg(0, 9))
    .option('--rename-from <old>', 'update: the host\'s previous name')
    .option('-s, --school <school>', 'school (default SCHOOL from the worker config, else default-school)')
    .option('--worker-conf <file>', 'DC worker config (env MACCT_WORKER_CONF; default /etc/macct-worker.conf)')
    .option('--master <file>', 'master devices.csv (DEVICES_CSV_MASTER)')
    .option('--delta <file>', 'delta CSV (DEVICES_CSV_DELTA)')
    .option('--import-script <path>', 'import command (IMPORT_SCRIPT; default /usr/sbin/linuxmuster-import-devices)')
    .option('--sam-ldb <path>', 'Samba sam.ldb for the AD check (SAM_LDB; default /var/lib/samba/private/sam.ldb)')
    .option('--dhcp-verify-file <file>', 'DHCP file to check for the host block (DHCP_VERIFY_FILE)')
    .option('--domain <domain>', 'DNS domain for the A-record check (LINBO_DOMAIN; auto: the Samba realm from sam.ldb; checked only when set)')
    .option('--dns-server <addr>', 'DNS server for the A-record check (default: the system resolver)')
    .option('--lock-wait <dur>', 'wait this long for a lock held by another run (default 0: exit 75 at once)', durationArg)
    .option('--import-timeout <dur>', 'time limit for the import (default 10m)', durationArg)
    .option('--dry-run', 'show the plan and the merge statistics; change nothing');
  formerly(cmd, '--config <group>', '--group');
  act(cmd, f, (action: ProvisionHostsOptions['action'], hostname: string, o: Omit<ProvisionHostsOptions, 'action' | 'hostname'> & { config?: string }): ProvisionHostsOptions => {
    const { config, ...rest } = o;
    return { ...rest, action, hostname, group: renamed(f, { flag: '--group', value: o.group }, { flag: '--config', value: config }) };
  }, runProvisionHosts);
  return helpAfter(
    cmd,
    [
      'Examples:',
      '  labops provision hosts create pc01 --mac aa:bb:cc:dd:ee:ff --ip 10.0.0.100 --room lab01 --group win11_efi_sata',
      '  labops provision hosts update pc01 --ip 10.0.0.101 --yes',
      '  labops provision hosts update pc02 --rename-from pc01 --yes',
      '  labops provision hosts delete pc01 --dry-run --json',
      '',
      'Environment: MACCT_WORKER_CONF (worker config path), and the worker config keys (SCHOOL, DEVICES_CSV_MASTER, …).',
      'Exit: 0 done and verified; 1 import or verify failed; 2 bad input, conflict or invalid devices.csv (nothing',
      'changed); 75 another run holds the lock.',
    ].join('\n'),
  );
}

export async function runProvisionHosts(f: Factory, o: ProvisionHostsOptions): Promise<Outcome[]> {
  const { provisionOneHost } = await import('../../app/provision-hosts.js');
  const result = await provisionOneHost(
    f,
    { action: o.action, hostname: o.hostname, renameFrom: o.renameFrom, mac: o.mac, ip: o.ip, room: o.room, config: o.group, role: o.role, pxe: o.pxe, dryRun: Boolean(o.dryRun) },
    o,
    {
      progress: (m) => f.io.info(m),
      confirm: async (plan) => {
        if (!f.globals().yes) showPlan(f, plan, 'stderr');
        return f.confirm(`${plan.action} ${plan.hostname}: write ${plan.master} and run the import`);
      },
    },
  );
  if (result.brokeStaleLock) f.io.warn(`removed a stale lock ${result.lockFile}: ${result.brokeStaleLock}`);
  render(f, result);
  return [result.verify && !result.verify.ok ? 'failed' : 'ok'];
}

function showPlan(f: Factory, plan: ProvisionPlan, to: 'stdout' | 'stderr'): void {
  const s = plan.mergeStats;
  const lines = [
    `${plan.action} ${plan.hostname} (school ${plan.school}; DHCP/AD name ${plan.qualifiedName})`,
    `  delta  ${plan.delta}: ${plan.deltaLine ?? '(removed)'}`,
    `  master ${plan.master}:`,
    `    before: ${plan.masterBefore ?? '(none)'}`,
    `    after:  ${plan.masterAfter ?? '(none)'}`,
    `  merge: ${s.total_master_lines} master rows + ${s.total_delta_lines} delta rows -> ${s.total_merged_lines} rows; deleted: ${s.deleted_hosts.join(', ') || '-'}`,
  ];
  for (const l of lines) {
    if (to === 'stdout') f.io.out(l);
    else f.io.info(l);
  }
}

function render(f: Factory, r: ProvisionHostResult): void {
  if (f.io.json) return f.io.printJson(r);
  if (r.status === 'nothing-to-do') return f.io.info('nothing to do: the host is in neither the master nor the delta');
  if (r.status === 'cancelled') return f.io.info('cancelled; nothing changed');
  if (r.status === 'dry-run') {
    showPlan(f, r.plan!, 'stdout');
    f.io.info('dry run: nothing written');
    return;
  }
  const v = r.verify!;
  const show = (x: boolean | null) => (x === null ? 'not checked' : x ? 'present' : 'absent');
  f.io.out(`${r.plan!.action} ${r.plan!.hostname}: ${v.ok ? 'verified' : 'VERIFY FAILED'}`);
  f.io.out(`  AD computer object: ${show(v.ad_object_exists)}`);
  f.io.out(`  DHCP host block:    ${show(v.dhcp_configured)}`);
  f.io.out(`  DNS A record:       ${show(v.dns_a_exists)}${v.dns_name ? ` (${v.dns_name})` : ''}`);
  if (r.backups.length) f.io.info(`backups: ${r.backups.join(', ')}`);
}
