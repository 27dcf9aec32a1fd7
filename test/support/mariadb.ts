// A real MariaDB server for integration tests: mariadb-install-db into a temp dir, mariadbd on a free
// loopback port, a database and a password user created for the test.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { TestContext } from 'node:test';
import { freePort, requireBinary, waitFor } from './services.js';
import { tempDir } from './tmp.js';

export interface MariaDb {
  port: number;
  /** mysql://labops:labops-pw@127.0.0.1:<port>/labops */
  url: string;
  user: string;
  password: string;
  database: string;
  /** run SQL as the server's administrator (the OS user's socket account) */
  sql(statement: string): string;
  /** a fresh database with the same user's rights, for isolation between tests */
  createDatabase(name: string): string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startMariaDb(t?: TestContext): Promise<MariaDb | undefined> {
  const mariadbd = requireBinary(t, 'mariadbd', ['/usr/sbin/mariadbd', '/usr/sbin/mysqld']);
  const installDb = requireBinary(t, 'mariadb-install-db', ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db']);
  const client = requireBinary(t, 'mariadb client', ['/usr/bin/mariadb', '/usr/bin/mysql']);
  if (!mariadbd || !installDb || !client) return undefined;
  const dir = tempDir('labops-mariadb-');
  const data = join(dir.path, 'data');
  const socket = join(dir.path, 'mysqld.sock');
  mkdirSync(data);
  const cnf = join(dir.path, 'my.cnf');
  const port = await freePort();
  // mariadb-install-db gives the OS user that runs it a socket-authenticated account: root in CI, anyone else locally
  const asRoot = process.getuid?.() === 0;
  const admin = asRoot ? 'root' : userInfo().username;
  writeFileSync(
    cnf,
    ['[mysqld]', `datadir=${data}`, `socket=${socket}`, `port=${port}`, 'bind-address=127.0.0.1', `pid-file=${join(dir.path, 'mysqld.pid')}`,
      ...(asRoot ? ['user=root'] : []), 'skip-name-resolve', 'innodb_buffer_pool_size=128M', 'innodb_log_file_size=48M', 'performance_schema=OFF', 'skip-log-bin',
      'default-time-zone=+02:00', ''].join('\n'),
  );
  installDataDir(installDb, cnf, data);
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(mariadbd, [`--defaults-file=${cnf}`], { stdio: 'ignore' });
    await waitFor(() => {
      execFileSync(client, ['--socket', socket, `-u${admin}`, '-e', 'SELECT 1'], { stdio: 'ignore' });
      return true;
    }, 'mariadbd to accept connections', 30_000, 100);
  };
  await start();
  const sql = (statement: string) => execFileSync(client, ['--socket', socket, `-u${admin}`, '-N', '-B', '-e', statement], { encoding: 'utf8' });
  const user = 'labops';
  const password = 'labops-pw';
  sql(`CREATE DATABASE labops; CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO '${user}'@'127.0.0.1';`);
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
    });
  };
  return {
    port,
    url: `mysql://${user}:${password}@127.0.0.1:${port}/labops`,
    user,
    password,
    database: 'labops',
    sql,
    createDatabase(name) {
      sql(`CREATE DATABASE IF NOT EXISTS \`${name}\``);
      return `mysql://${user}:${password}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await stop();
      rmSync(dir.path, { recursive: true, force: true });
    },
    async restart() {
      await stop();
      await start();
    },
  };
}

/**
 * mariadb-install-db into a fresh data directory. It failed once in a CI run and never again by hand: one more
 * try on an emptied directory, and if that fails too, its own output in the error rather than "Command failed".
 */
function installDataDir(installDb: string, cnf: string, data: string): void {
  const args = [`--defaults-file=${cnf}`, '--auth-root-authentication-method=socket', '--skip-test-db'];
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync(installDb, args, { encoding: 'utf8' });
    if (r.status === 0) return;
    if (attempt === 2) throw new Error(`mariadb-install-db failed (exit ${r.status ?? r.signal}):\n${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-20).join('\n')}`);
    rmSync(data, { recursive: true, force: true });
    mkdirSync(data);
  }
}
