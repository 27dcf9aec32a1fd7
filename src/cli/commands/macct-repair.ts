// labops macct-repair <hostname...> [-s <school>]: restore machine-account passwords in sam.ldb from the
// images' .macct files (or run REPAIR_SCRIPT as the worker did).
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';
import { act, listing } from '../action.js';
import type { Outcome } from '../../domain/outcome.js';
import type { MacctRepairOptions } from '../../app/macct-repair.js';

export function registerMacctRepair(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('macct-repair')
    .summary("restore computers' machine-account passwords in sam.ldb from the image's .macct file")
    .description(
      'For each host: find its computer object in sam.ldb (ldbsearch, sAMAccountName <HOST>$; <school>-<host> for other ' +
        'schools), find the .macct file of its LINBO image (devices.csv group -> start.conf.<group> BaseImage -> ' +
        '<IMAGE_DIR>/<base>/<image>.macct, as linuxmuster-linbo7 stores it on upload) and restore the stored unicodePwd and ' +
        'supplementalCredentials with ldbmodify and the controls linuxmuster uses. Reports what changed. With REPAIR_SCRIPT ' +
        'pointing at an existing file (or --script) that script is run instead, as the DC worker ran it.',
    )
    .argument('<hostname...>', 'host names (as in devices.csv)')
    .option('-s, --school <school>', 'school (default SCHOOL from the worker config, else default-school)')
    .option('--worker-conf <file>', 'worker config (env MACCT_WORKER_CONF; default /etc/macct-worker.conf)')
    .option('--sam-ldb <path>', 'sam.ldb (SAM_LDB; default /var/lib/samba/private/sam.ldb)')
    .option('--macct-file <file>', 'use this .macct LDIF for every host instead of looking it up')
    .option('--devices-csv <file>', "the school's devices.csv (DEVICES_CSV_MASTER)")
    .option('--linbo-dir <dir>', 'LINBO directory with start.conf.<group> (LINBO_DIR; default /srv/linbo)')
    .option('--image-dir <dir>', 'image directory (IMAGE_DIR; default /srv/linbo/images)')
    .option('--script', 'run REPAIR_SCRIPT (python3 <script> --only-hosts <host> -s <school> --log-file …)')
    .option('--native', 'never run REPAIR_SCRIPT, even when it exists');
  act(listing(cmd), f, (hosts: string[], o: Omit<MacctRepairOptions, 'hosts'>): MacctRepairOptions => ({ ...o, hosts }), runMacctRepair);
  return helpAfter(
    cmd,
    [
      'Examples:',
      '  labops macct-repair pc-r101-01',
      '  labops macct-repair pc01 pc02 -s default-school --json',
      '  labops macct-repair pc01 --macct-file /srv/linbo/images/win11/win11.qcow2.macct',
      '',
      'Exit: 0 repaired or unchanged; 1 failed (unknown host, no .macct file, ldbmodify failed); 2 sam.ldb or config',
      'missing; 4 no permission on sam.ldb (run as root); 5 some hosts repaired, some failed.',
    ].join('\n'),
  );
}

export async function runMacctRepair(f: Factory, o: MacctRepairOptions): Promise<Outcome[]> {
  const { repairMachineAccounts } = await import('../../app/macct-repair.js');
  const results = await repairMachineAccounts(f, o);
  if (f.io.json) f.io.printJson({ results });
  else {
    const { renderTable } = await import('../io/render.js');
    renderTable<(typeof results)[number]>(
      f.io,
      [
        { header: 'HOST', value: (r) => r.host },
        { header: 'STATUS', value: (r) => r.status, pretty: (r, c) => (r.status === 'failed' ? c.red : r.status === 'repaired' ? c.green : c.yellow)(r.status) },
        { header: 'CHANGED', value: (r) => r.changed.join(',') || '-' },
        { header: 'DETAIL', flex: true, value: (r) => r.error ?? r.dn ?? '' },
      ],
      results,
    );
    for (const r of results) if (r.error) f.io.error(`labops: ${r.host}: ${r.error}`);
  }
  return results.map((r) => (r.status === 'failed' ? 'failed' : 'ok'));
}
