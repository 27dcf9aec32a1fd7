// labops macct-repair <hostname...> [-s <school>]: restore machine-account passwords in sam.ldb from the
// images' .macct files (or run REPAIR_SCRIPT as the worker did).
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { helpAfter } from '../help.js';

export interface MacctRepairOptions {
  hosts: string[];
  school?: string;
  workerConf?: string;
  samLdb?: string;
  macctFile?: string;
  linboDir?: string;
  imageDir?: string;
  devicesCsv?: string;
  script?: boolean;
  native?: boolean;
}

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
    .option('--native', 'never run REPAIR_SCRIPT, even when it exists')
    .action(async (hosts: string[], o: Omit<MacctRepairOptions, 'hosts'>) => runMacctRepair(f, { ...o, hosts }));
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

export async function runMacctRepair(f: Factory, o: MacctRepairOptions): Promise<void> {
  const [{ loadMacctWorkerConfig, MACCT_WORKER_CONF }, { macctRepairConfig, repairMacct, systemMacctPorts }, { UsageError, Silent }] = await Promise.all([
    import('../../core/config/macct-worker-conf.js'),
    import('../../ops/macct-repair.js'),
    import('../../domain/errors.js'),
  ]);
  if (o.script && o.native) throw new UsageError('--script and --native exclude each other');
  for (const h of o.hosts) if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(h)) throw new UsageError(`invalid host name '${h}'`);
  const wc = loadMacctWorkerConfig(o.workerConf ?? f.env.MACCT_WORKER_CONF ?? MACCT_WORKER_CONF, f.env, {
    school: o.school,
    sam_ldb: o.samLdb,
    devices_csv_master: o.devicesCsv,
    linbo_dir: o.linboDir,
    image_dir: o.imageDir,
  });
  const cfg = { ...macctRepairConfig(wc, o.script ? 'script' : o.native ? 'native' : undefined), macctFile: o.macctFile };
  const ports = await systemMacctPorts(f.env);
  const results = [];
  for (const host of o.hosts) results.push(await repairMacct(host, cfg, ports));
  if (f.io.json) f.io.printJson({ results });
  else {
    const { renderTable } = await import('../io/render.js');
    renderTable<(typeof results)[number]>(
      f.io,
      [
        { header: 'HOST', value: (r) => r.host },
        { header: 'STATUS', value: (r) => r.status, pretty: (r, c) => (r.status === 'failed' ? c.red : r.status === 'repaired' ? c.green : c.yellow)(r.status) },
        { header: 'CHANGED', value: (r) => r.changed.join(',') || '-' },
        { header: 'DETAIL', value: (r) => r.error ?? r.dn ?? '' },
      ],
      results,
    );
    for (const r of results) if (r.error) f.io.error(`labops: ${r.host}: ${r.error}`);
  }
  const failed = results.filter((r) => r.status === 'failed').length;
  if (failed === 0) return;
  throw new Silent(failed === results.length ? 'failed' : 'partial');
}
