// 1,000 provision_host jobs enqueued at once through the LINBO API peer into a real redis-server, consumed by
// `labops dc jobs --once` in-process with the import-devices test stand-in. Batched (PROVISION_BATCH_SIZE=50)
// against one job per import (PROVISION_BATCH_SIZE=1), measured in the same run: end-to-end time from the
// first enqueue until every operation is reported, and the number of import runs.
// There is no Samba here: the AD check of verify looks for the host in the merged devices.csv; the DHCP
// check reads the file the stand-in wrote.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis } from '../test/support/redis.js';
import { tempDir } from '../test/support/tmp.js';
import { startLinboApi } from '../src/sim/linbo/index.js';
import { runDcJobConsumer } from '../src/ops/dc-jobs.js';
import type { BenchResult } from './lib.js';

const JOBS = 1000;
const STAND_IN = new URL('../test/fixtures/linbo/fake-import-devices.mjs', import.meta.url).pathname;
const MASTER = new URL('../test/fixtures/linbo/devices.csv.sample', import.meta.url).pathname;

async function scenario(batchSize: number): Promise<{ ms: number; importRuns: number; completed: number; failed: number }> {
  const dir = tempDir('labops-bench-dcjobs-');
  const redis = await startRedis({ persist: false });
  const api = await startLinboApi({ redisUrl: redis.url, internalKey: 'bench-key', provisioningDryRun: false });
  try {
    const sop = join(dir.path, 'sophomorix');
    const dhcp = join(dir.path, 'dhcp');
    mkdirSync(join(sop, 'default-school'), { recursive: true });
    mkdirSync(join(dhcp, 'devices'), { recursive: true });
    const master = join(sop, 'default-school', 'devices.csv');
    writeFileSync(master, readFileSync(MASTER));
    const conf = join(dir.path, 'macct-worker.conf');
    writeFileSync(
      conf,
      [
        'REDIS_HOST=127.0.0.1',
        `REDIS_PORT=${redis.port}`,
        `API_URL=${api.apiUrl}`,
        'API_KEY=bench-key',
        'CONSUMER_NAME=bench',
        `DEVICES_CSV_MASTER=${sop}/{school}/devices.csv`,
        `DEVICES_CSV_DELTA=${sop}/{school}/linbo-docker.devices.csv`,
        `IMPORT_SCRIPT=${STAND_IN}`,
        `PROVISION_LOCK_FILE=${dir.path}/provision.lock`,
        `DHCP_VERIFY_FILE=${dhcp}/devices/{school}.conf`,
        `PROVISION_BATCH_SIZE=${batchSize}`,
        'PROVISION_DEBOUNCE_SEC=0',
        `LOG_DIR=${dir.path}/log`,
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, MACCT_WORKER_CONF: conf, FAKE_LMN_SOPHOMORIX: sop, FAKE_LMN_DHCP: dhcp, FAKE_LMN_HOOKS: join(dir.path, 'hooks'), FAKE_LMN_SUBNETS: '10.0.0.0/16' };
    const started = performance.now();
    for (let i = 0; i < JOBS; i++) {
      await api.queueProvision('create', {
        hostname: `bpc${i}`,
        mac: `de:ad:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        ip: `10.0.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`,
        configName: 'win11_efi_sata',
        room: 'bench',
      });
    }
    const summary = await runDcJobConsumer({
      env,
      signal: new AbortController().signal,
      once: true,
      log: () => {},
      wrapProvisionPorts: (p) => ({
        ...p,
        async adComputerExists(_samLdb, name) {
          return new RegExp(`^[^;]*;${name};`, 'im').test(readFileSync(master, 'utf8'));
        },
      }),
    });
    const ms = performance.now() - started;
    const ops = [...api.operations.values()];
    return { ms, importRuns: summary.importRuns, completed: ops.filter((o) => o.status === 'completed').length, failed: ops.filter((o) => o.status === 'failed').length };
  } finally {
    await api.close();
    await redis.stop();
    dir.cleanup();
  }
}

export async function run(): Promise<BenchResult> {
  const batched = await scenario(50);
  const single = await scenario(1);
  const r = (x: number) => Math.round(x);
  return {
    name: `dc jobs: ${JOBS} provision_host jobs enqueued at once, batched (50/import) vs one job per import`,
    figures: {
      batched_end_to_end_ms: r(batched.ms),
      batched_import_runs: batched.importRuns,
      batched_completed: batched.completed,
      batched_failed: batched.failed,
      one_per_import_end_to_end_ms: r(single.ms),
      one_per_import_import_runs: single.importRuns,
      one_per_import_completed: single.completed,
    },
    ratios: {
      time_batched_vs_one_per_import: Math.round((batched.ms / single.ms) * 1000) / 1000,
      import_runs_batched_vs_one_per_import: Math.round((batched.importRuns / Math.max(1, single.importRuns)) * 1000) / 1000,
    },
    targets: { import_runs_batched_vs_one_per_import: 0.05, time_batched_vs_one_per_import: 0.5 },
    notes: ['import = the test stand-in (node, rewrites the DHCP file); no Samba: AD verify reads the merged devices.csv'],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2));
}
