// labops dhcp-patch: drop-in for the 50-linbo-docker-dhcp import hook. Imports nothing heavy: no
// database, SSH, WinRM or zod; it runs on every device import.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { ipArg } from '../args.js';
import { act, listing } from '../action.js';
import type { DhcpPatchResult } from '../../ops/dhcp-patch.js';
import type { DhcpPatchOptions } from '../../app/dhcp-patch.js';

export function registerDhcpPatch(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('dhcp-patch')
    .summary("point LINBO Docker's PXE hosts at its TFTP server (the device-import hook)")
    .description(
      "Patch `next-server <LINBO_DOCKER_IP>;` into linuxmuster's DHCP devices file (/etc/dhcp/devices/<school>.conf) for " +
        'every PXE host of the LINBO Docker delta CSV: inserted after the `hardware ethernet` line, a wrong one replaced, a right ' +
        'one kept. Then `dhcpd -t -cf <dhcpd.conf>` when the file is included; on failure the original is restored byte for byte. ' +
        'The write is atomic. A drop-in for the 50-linbo-docker-dhcp hook: same config file, selection, patch and log lines.\n\n' +
        'Non-interactive by design: it writes the DHCP file without asking, because it runs as the linuxmuster device-import ' +
        'hook (root, no TTY) and the import itself is the operator\'s confirmation. Use --dry-run to see the plan.\n\n' +
        'Precedence: flags > config file (--conf) > defaults. -s wins over SCHOOL= in the file. Without a config file and ' +
        'without --next-server there is nothing to do (exit 0), as with the hook.',
    )
    .option('-s, --school <school>', 'school (default: SCHOOL from the config file, else default-school)')
    .option('--conf <file>', "the hook's KEY=VALUE config (env LINBO_DOCKER_DHCP_CONF; default /etc/linbo-docker-dhcp.conf)")
    .option('--delta <file>', 'delta CSV (DELTA_CSV; default /etc/linuxmuster/sophomorix/{school}/linbo-docker.devices.csv)')
    .option('--devices-dhcp <file>', 'DHCP devices file (DEVICES_DHCP; default /etc/dhcp/devices/{school}.conf)')
    .option('--next-server <ip>', 'TFTP server address (LINBO_DOCKER_IP)', ipArg)
    .option('--dhcpd-conf <file>', 'dhcpd.conf for the syntax check (DHCPD_CONF; default /etc/dhcp/dhcpd.conf)')
    .option('--dhcpd <path>', 'dhcpd binary (DHCPD; default: dhcpd on PATH or /usr/sbin/dhcpd)')
    .option('--log-file <file>', 'log file, appended (LOGFILE; default /var/log/linuxmuster/linbo-docker-dhcp.log)')
    .option('--dry-run', 'print the plan (hosts, insert/replace/keep) and change nothing, not even the log');
  act(listing(cmd), f, (o: DhcpPatchOptions) => o, runDhcpPatch);
  return helpAfter(
    cmd,
    [
      'Examples:',
      '  labops dhcp-patch -s default-school',
      '  labops dhcp-patch -s default-school --dry-run',
      '  labops dhcp-patch --conf ./linbo-docker-dhcp.conf --next-server 10.0.0.13 --json',
      '  install -m 755 examples/50-linbo-docker-dhcp /var/lib/linuxmuster/hooks/device-import.post.d/',
      '',
      'Config file keys: LINBO_DOCKER_IP SCHOOL DELTA_CSV DEVICES_DHCP LOGFILE ({school} is replaced), DHCPD_CONF DHCPD.',
      'Environment: LINBO_DOCKER_DHCP_CONF (config file path).',
      'Exit: 0 patched, unchanged or nothing to do (hosts without a hardware line are logged as errors but do not fail',
      'the import); 1 write failed or dhcpd -t failed (file restored); 2 bad input: config, delta CSV, DHCP file',
      '(broken braces), missing dhcpd.conf, non-UTF-8 (nothing changed).',
    ].join('\n'),
  );
}

export async function runDhcpPatch(f: Factory, o: DhcpPatchOptions): Promise<void> {
  const { patchDhcp } = await import('../../app/dhcp-patch.js');
  // The hook tees its log to stdout, which import-devices shows; --json and --dry-run print a document or plan instead.
  // The lines come in one go at the end (also on failure): one write per host is slow on big imports.
  const live = !f.io.json && !o.dryRun;
  const result = await patchDhcp(f, o, live ? (text) => f.io.out(text) : undefined);
  if (f.io.json) return f.io.printJson(result);
  if (o.dryRun) return renderPlan(f, result);
  if (result.status === 'nothing-to-do' && result.log.length === 0 && f.io.verbose) f.io.info(`nothing to do: ${result.reason}`);
}

async function renderPlan(f: Factory, r: DhcpPatchResult): Promise<void> {
  if (r.status === 'nothing-to-do') {
    f.io.info(`dry run: nothing to do (${r.reason})`);
    return;
  }
  const { renderTable } = await import('../io/render.js');
  const rows = [
    ...r.hosts.map((h) => ({ host: h.host, action: h.action, line: String(h.line), detail: h.previous ? `was ${h.previous.join(', ')}` : '' })),
    ...r.missing.map((m) => ({ host: m, action: 'missing', line: '-', detail: 'no host block in the DHCP file' })),
  ];
  renderTable(
    f.io,
    [
      { header: 'HOST', value: (x: (typeof rows)[number]) => x.host },
      { header: 'ACTION', value: (x) => x.action },
      { header: 'LINE', value: (x) => x.line },
      { header: 'DETAIL', flex: true, value: (x) => x.detail },
    ],
    rows,
  );
  const count = (a: string) => r.hosts.filter((h) => h.action === a).length;
  f.io.info(
    `dry run: ${count('insert')} insert, ${count('replace')} replace, ${count('keep')} keep, ${count('no-hardware')} without hardware line, ` +
      `${r.missing.length} missing; next-server ${r.nextServer} in ${r.devicesDhcp}; nothing written`,
  );
}
