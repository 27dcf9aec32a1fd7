// Benchmark: 200 REQUESTED lab sessions whose provision script takes 0.2 s, against a loopback sshd.
// labops (bounded concurrency, claims) against the collector's one-at-a-time loop, re-implemented
// faithfully below (TCP pre-check, password SSH without host-key check, unquoted command, wait for the
// exit status, then UPDATE), both in the same run on the same store. The collector's 10 s sleep
// between loops of LIMIT 10 is left out, which only flatters the collector.
import { connect } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import ssh2 from 'ssh2';
import { sql } from 'kysely';
import { startSshd } from '../test/support/sshd.js';
import { tempDir } from '../test/support/tmp.js';
import { addLab, addServer, addSession, countStatus } from '../test/support/collector.js';
import { openDatabase, type Database } from '../src/core/db/database.js';
import { migrate } from '../src/core/db/migrations.js';
import { run as runCli } from '../src/cli/main.js';
import { IOStreams } from '../src/cli/io/iostreams.js';

const SESSIONS = 200;
const SCRIPT_SECONDS = 0.2;
const CONCURRENCY = 32;

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const t = setTimeout(() => (s.destroy(), resolve(false)), timeoutMs);
    s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
    s.once('error', () => (clearTimeout(t), resolve(false)));
  });
}

/** collector_with_provisioning.py's provisioning step, one session at a time. */
async function collectorLoop(db: Database): Promise<void> {
  while (true) {
    const rows = await sql<{ id: number; username: string; namespace: string; provision_script_path: string; ip_address: string; ssh_user: string; ssh_password: string; ssh_port: number }>`
      SELECT ls.id, ls.username, ls.namespace, l.provision_script_path, s.ip_address, s.ssh_user, s.ssh_password, s.ssh_port
      FROM lab_sessions ls INNER JOIN labs l ON ls.lab_id = l.id LEFT JOIN servers s ON l.server_id = s.id
      WHERE ls.status = 'REQUESTED' AND ls.provisioned = 0 ORDER BY ls.created_at ASC LIMIT 10`.execute(db.kysely);
    if (rows.rows.length === 0) return;
    for (const r of rows.rows) {
      // The collector always used port 22; the loopback sshd listens elsewhere, so its port stands in.
      if (!(await tcpCheck(r.ip_address, r.ssh_port, 3000))) continue;
      const command = `bash ${r.provision_script_path} ${r.username} ${r.namespace}`;
      const code = await new Promise<number>((resolve, reject) => {
        const c = new ssh2.Client();
        c.on('ready', () =>
          c.exec(command, (err, stream) => {
            if (err) return reject(err);
            stream.on('data', () => {});
            stream.stderr.on('data', () => {});
            stream.on('exit', (status: number) => resolve(status));
            stream.on('close', () => c.end());
          }),
        );
        c.on('error', reject);
        c.connect({ host: r.ip_address, port: r.ssh_port, username: r.ssh_user, password: r.ssh_password, readyTimeout: 10_000, hostVerifier: () => true });
      });
      await sql`UPDATE lab_sessions SET status = ${code === 0 ? 'ACTIVE' : 'FAILED'}, provisioned = ${code === 0 ? 1 : 0} WHERE id = ${r.id}`.execute(db.kysely);
    }
  }
}

export async function run(): Promise<{ name: string; figures: Record<string, number>; ratios: Record<string, number>; targets: Record<string, number> }> {
  const sshd = await startSshd();
  if (!sshd) throw new Error('no sshd: the benchmark needs /usr/sbin/sshd and root');
  const tmp = tempDir('labops-bench-prov-');
  try {
    const script = sshd.script('bench_provision.sh', `sleep ${SCRIPT_SECONDS}`);
    const knownHosts = join(tmp.path, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
    const prepare = async (name: string) => {
      const url = `sqlite:${join(tmp.path, `${name}.db`)}`;
      const db = await openDatabase(url);
      await migrate(db.kysely, db.dialect);
      const server = await addServer(db.kysely, { ip_address: sshd.host, ssh_port: sshd.port, ssh_user: sshd.user, ssh_password: sshd.password });
      const lab = await addLab(db.kysely, { server_id: server, provision_script_path: script });
      for (let i = 0; i < SESSIONS; i++) await addSession(db.kysely, { lab_id: lab, username: `user${i}`, namespace: `user-${i}-bench` });
      return { url, db };
    };

    const lab = await prepare('labops');
    const io = IOStreams.test();
    const t0 = performance.now();
    const code = await runCli(['provision', 'sessions', '--once', '--concurrency', String(CONCURRENCY)], {
      io,
      env: { HOME: tmp.path, XDG_CONFIG_HOME: tmp.path, LABOPS_DB: lab.url, LABOPS_SSH_KNOWN_HOSTS: knownHosts },
    });
    const labopsMs = performance.now() - t0;
    const labopsActive = await countStatus(lab.db.kysely, 'ACTIVE');
    await lab.db.close();
    if (code !== 0 || labopsActive !== SESSIONS) throw new Error(`labops run failed (exit ${code}, ${labopsActive} active): ${io.errText()}`);

    const col = await prepare('collector');
    const t1 = performance.now();
    await collectorLoop(col.db);
    const collectorMs = performance.now() - t1;
    const collectorActive = await countStatus(col.db.kysely, 'ACTIVE');
    await col.db.close();
    if (collectorActive !== SESSIONS) throw new Error(`collector loop provisioned ${collectorActive}/${SESSIONS}`);

    return {
      name: 'provision-sessions',
      figures: {
        sessions: SESSIONS,
        script_seconds: SCRIPT_SECONDS,
        labops_concurrency: CONCURRENCY,
        labops_seconds: Math.round(labopsMs) / 1000,
        collector_seconds: Math.round(collectorMs) / 1000,
        labops_sessions_per_second: Math.round((SESSIONS / labopsMs) * 1000 * 10) / 10,
        collector_sessions_per_second: Math.round((SESSIONS / collectorMs) * 1000 * 10) / 10,
      },
      ratios: { labops_over_collector: Math.round((labopsMs / collectorMs) * 1000) / 1000 },
      targets: { labops_over_collector: 0.1 },
    };
  } finally {
    await sshd.stop();
    tmp.cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(JSON.stringify(r, null, 2));
  const ratio = r.ratios.labops_over_collector!;
  console.log(`labops ${r.figures.labops_seconds}s vs collector ${r.figures.collector_seconds}s: ratio ${ratio} (target <= 0.1) ${ratio <= 0.1 ? 'OK' : 'MISSED'}`);
  process.exit(0);
}
