// labops macct-repair against a real Samba AD sam.ldb with real computer accounts (machine passwords set),
// and a macct_repair job through the consumer with the native repair.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { createComputer, provisionSamba } from '../support/samba.js';
import { cli, fixturePath } from '../support/dc-tree.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { requireRoot, waitFor } from '../support/services.js';
import { findComputer } from '../../src/core/samba/ldb.js';
import { startLinboApi, type LinboApi } from '../../src/sim/linbo/index.js';
import { runDcJobConsumer } from '../../src/ops/dc-jobs.js';
import { macctRepairConfig, repairMacct, systemMacctPorts } from '../../src/ops/macct-repair.js';
import { loadMacctWorkerConfig } from '../../src/core/config/macct-worker-conf.js';
import { TempFail } from '../../src/domain/errors.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const work = tempDir('labops-macct-');
let samLdb = '';
const dirs = { linbo: join(work.path, 'srv', 'linbo'), images: join(work.path, 'srv', 'linbo', 'images') };
const devicesCsv = join(work.path, 'devices.csv');
const workerConf = join(work.path, 'macct-worker.conf');
const macctFile = join(dirs.images, 'win11', 'win11.qcow2.macct');
let stored: { unicodePwd: string; supplementalCredentials: string };
const env = (): NodeJS.ProcessEnv => ({ MACCT_WORKER_CONF: workerConf, PATH: process.env.PATH, NO_COLOR: '1' });

before(async () => {
  samLdb = provisionSamba(work.path) ?? '';
  if (!samLdb) return;
  // PC-IMG uploaded the image: its machine password is what the image carries.
  createComputer(samLdb, 'pc-img', 'Image-Machine-Pw-1!');
  createComputer(samLdb, 'pc01', 'Other-Machine-Pw-2!');
  createComputer(samLdb, 'pc02', 'Other-Machine-Pw-3!');
  const src = (await findComputer(samLdb, 'pc-img'))!;
  stored = { unicodePwd: src.attrs.unicodePwd![0]!, supplementalCredentials: src.attrs.supplementalCredentials![0]! };
  // rsync-post-upload.sh: the template filled with the uploader's hashes, dn left as @@dn@@
  const template = readFileSync(fixturePath('machineacct.ldif.template'), 'utf8');
  mkdirSync(join(dirs.images, 'win11'), { recursive: true });
  writeFileSync(macctFile, template.replace('@@unicodepwd@@', stored.unicodePwd).replace('@@suppcredentials@@', stored.supplementalCredentials), { mode: 0o600 });
  writeFileSync(join(dirs.linbo, 'start.conf.win11_efi_sata'), '[LINBO]\nServer = 10.0.0.13\n\n[OS]\nName = Windows 11\nBaseImage = win11.qcow2\n');
  writeFileSync(devicesCsv, 'lab01;pc01;win11_efi_sata;AA:BB:CC:DD:EE:01;10.0.0.101;;;;;;1;;;;;\nlab01;pc02;win11_efi_sata;AA:BB:CC:DD:EE:02;10.0.0.102;;;;;;1;;;;;\n');
  writeFileSync(
    workerConf,
    [`SAM_LDB=${samLdb}`, `DEVICES_CSV_MASTER=${devicesCsv}`, `LINBO_DIR=${dirs.linbo}`, `IMAGE_DIR=${dirs.images}`, `REPAIR_SCRIPT=${join(work.path, 'nonexistent.py')}`, `LOG_DIR=${join(work.path, 'log')}`, ''].join('\n'),
  );
});
after(() => work.cleanup());

const pwd = async (name: string) => (await findComputer(samLdb, name))?.attrs.unicodePwd?.[0];

describe('macct-repair', () => {
  test('restores the stored unicodePwd/supplementalCredentials from the image .macct; a second run changes nothing', async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    assert.notEqual(await pwd('pc01'), stored.unicodePwd);
    const r = await cli(['macct-repair', 'pc01', '--json'], env());
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout).results[0];
    assert.equal(res.status, 'repaired');
    assert.equal(res.method, 'native');
    assert.equal(res.dn, 'CN=PC01,CN=Computers,DC=lab,DC=test');
    assert.equal(res.macctFile, macctFile);
    assert.deepEqual(res.changed, ['unicodePwd', 'supplementalCredentials']);
    assert.equal(await pwd('pc01'), stored.unicodePwd);
    assert.equal((await findComputer(samLdb, 'pc01'))!.attrs.supplementalCredentials![0], stored.supplementalCredentials);
    assert.notEqual(await pwd('pc02'), stored.unicodePwd, 'other accounts are untouched');

    const again = await cli(['macct-repair', 'pc01'], env());
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^pc01\tunchanged\t-\tCN=PC01,CN=Computers,DC=lab,DC=test$/m);
  });

  test('an unknown host exits 1 with a clear message; with a known one it is partial (5)', async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const r = await cli(['macct-repair', 'nosuchpc'], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`labops: nosuchpc: no computer account NOSUCHPC\\$ in ${samLdb.replace(/[.]/g, '\\.')}`));
    const mixed = await cli(['macct-repair', 'pc02', 'nosuchpc', '--json'], env());
    assert.equal(mixed.code, 5);
    assert.equal(await pwd('pc02'), stored.unicodePwd);
  });

  test('missing sam.ldb exits 2; no permission on sam.ldb exits 4', async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const missing = await cli(['macct-repair', 'pc01', '--sam-ldb', join(work.path, 'nope', 'sam.ldb')], env());
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /labops: sam\.ldb not found: .*nope\/sam\.ldb/);
    // as an unprivileged user (the DC's sam.ldb is root-only): dropping to that user needs root
    if (!requireRoot(ctx, 'running labops as another user (setpriv)')) return;
    chmodSync(work.path, 0o755); // the config is readable by everyone, sam.ldb's directory is not
    chmodSync(join(work.path, 'samba', 'private'), 0o700);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--import', 'tsx', fixturePath('labops-src.ts'), 'macct-repair', 'pc01', '--worker-conf', workerConf], {
      env: { PATH: process.env.PATH, HOME: '/tmp', NO_COLOR: '1' },
      encoding: 'utf8',
      cwd: process.cwd(),
    });
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /labops: no permission to read and write .*sam\.ldb/);
  });

  test('REPAIR_MODE=script with no script: the worker\'s error', async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    const r = await cli(['macct-repair', 'pc01', '--script'], env());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Repair script not found: .*nonexistent\.py/);
  });
});

// Holds a transaction on sam.ldb through Samba's own SamDB (what samba-tool does while it works), which makes
// every other writer wait on the tdb lock. Prints "locked" once it holds it.
const HOLD_TRANSACTION = `
import sys, time
from samba.samdb import SamDB
from samba.auth import system_session
from samba.param import LoadParm
lp = LoadParm()
lp.load(sys.argv[2])
db = SamDB(url=sys.argv[1], session_info=system_session(), lp=lp)
db.transaction_start()
print('locked', flush=True)
sys.stdin.read()
db.transaction_cancel()
`;

describe('macct-repair on a locked sam.ldb', () => {
  test('ldbmodify stopped after the timeout is a temporary failure (75) that says so; nothing changed', { timeout: 60_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    createComputer(samLdb, 'pc04', 'Other-Machine-Pw-5!');
    writeFileSync(devicesCsv, `${readFileSync(devicesCsv, 'utf8')}lab01;pc04;win11_efi_sata;AA:BB:CC:DD:EE:04;10.0.0.104;;;;;;1;;;;;\n`);
    const before = await pwd('pc04');
    const holder = spawn('/usr/bin/python3', ['-c', HOLD_TRANSACTION, samLdb, join(work.path, 'samba', 'etc', 'smb.conf')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => holder.on('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (c) => String(c).includes('locked') && resolve());
        holder.on('close', (code) => reject(new Error(`the transaction holder exited ${code}`)));
      });
      const cfg = macctRepairConfig(loadMacctWorkerConfig(workerConf, env()), 'native');
      const ports = await systemMacctPorts(env(), { timeoutMs: 1500 });
      const err = await repairMacct('pc04', cfg, ports).then(
        () => assert.fail('the repair went through a held transaction'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TempFail, String(err));
      assert.equal(EXIT[err.kind], 75);
      assert.match(err.message, /^sam\.ldb stayed locked for 1\.5 s: ldbmodify on .*sam\.ldb was stopped, nothing changed$/);
      assert.doesNotMatch(err.message, /exit null/);
    } finally {
      holder.stdin.end();
      await exited;
    }
    assert.equal(await pwd('pc04'), before, 'the password is the one it had');
    // once the transaction is gone, the same repair goes through
    const ok = await cli(['macct-repair', 'pc04', '--json'], env());
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await pwd('pc04'), stored.unicodePwd);
  });
});

describe('macct_repair job through the consumer (native repair)', () => {
  let redis: TestRedis | undefined;
  let api: LinboApi | undefined;
  after(async () => {
    await api?.close();
    await redis?.stop();
  });
  test('completed with the worker-compatible result, the password restored', { timeout: 60_000 }, async (ctx) => {
    if (!samLdb) return ctx.skip('samba not installed');
    createComputer(samLdb, 'pc03', 'Other-Machine-Pw-4!');
    writeFileSync(devicesCsv, `${readFileSync(devicesCsv, 'utf8')}lab01;pc03;win11_efi_sata;AA:BB:CC:DD:EE:03;10.0.0.103;;;;;;1;;;;;\n`);
    redis = await startRedis();
    api = await startLinboApi({ redisUrl: redis.url, internalKey: 'k-123' });
    const conf = join(work.path, 'consumer.conf');
    writeFileSync(conf, `${readFileSync(workerConf, 'utf8')}REDIS_HOST=127.0.0.1\nREDIS_PORT=${redis.port}\nAPI_URL=${api.apiUrl}\nAPI_KEY=k-123\n`);
    const job = await api.queueMacct('pc03');
    const ctl = new AbortController();
    const run = runDcJobConsumer({ env: { MACCT_WORKER_CONF: conf, PATH: process.env.PATH }, signal: ctl.signal, log: () => {} });
    await waitFor(() => api!.operations.get(job.operationId)!.status !== 'pending' && api!.operations.get(job.operationId)!.status !== 'running', 'the job', 30_000);
    ctl.abort();
    await run;
    const op = api.operations.get(job.operationId)!;
    assert.equal(op.status, 'completed', String(op.error));
    assert.deepEqual(op.result, { processed: true, stdout_lines: 2, unicodePwd_updated: true, supplementalCredentials_updated: true, dn: 'CN=PC03,CN=Computers,DC=lab,DC=test', macctFile });
    assert.equal(await pwd('pc03'), stored.unicodePwd);
  });
});
