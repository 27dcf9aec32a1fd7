// The daemon's heartbeat loop over a file share polled more often than stations write: /health shows per run how
// many hosts were read and how many were only looked at (unchanged since their last stored poll), and counts the
// files caught half-written, vanished or replaced by a directory; none of them is stored torn, the daemon goes on.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { run, RunSignals } from '../../src/cli/main.js';
import { IOStreams } from '../../src/cli/io/iostreams.js';
import { waitFor } from '../support/services.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('labops-daemon-share-');
after(() => dir.cleanup());

const WIRE = JSON.parse(readFileSync(new URL('../fixtures/heartbeat/heartbeat.ready-hybrid.wire.json', import.meta.url), 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
const NAMES = ['ws-01', 'ws-02', 'ws-03', 'ws-04', 'ws-05', 'ws-06'];
const share = join(dir.path, 'share');

function write(name: string, minute: number): void {
  const path = join(share, name, 'heartbeat.json');
  mkdirSync(join(share, name), { recursive: true });
  const doc = { ...WIRE, host: name.toUpperCase(), timestamp: new Date(Date.UTC(2026, 11, 1, 8, minute)).toISOString().replace('.000', '') };
  writeFileSync(`${path}.tmp`, `\uFEFF${JSON.stringify(doc)}`);
  renameSync(`${path}.tmp`, path);
}

interface HeartbeatLoop { runs: number; report: Record<string, number> }

async function health(base: string): Promise<HeartbeatLoop> {
  const h = (await (await fetch(`${base}/health`)).json()) as { loops: { heartbeat: HeartbeatLoop } };
  return h.loops.heartbeat;
}

describe('labops daemon: heartbeats from a file share', () => {
  test('unchanged stations are looked at, not read; torn, vanished and replaced files are counted and never stored', { timeout: 120_000 }, async () => {
    for (const n of NAMES) write(n, 0);
    const inventory = join(dir.path, 'hosts.json');
    writeFileSync(inventory, JSON.stringify({ hosts: NAMES.map((name, i) => ({ name, address: `10.77.0.${i + 1}` })) }));
    const dbPath = join(dir.path, 'labops.db');
    const config = join(dir.path, 'config.json');
    // only the heartbeat loop: the others have nothing to do here
    writeFileSync(config, JSON.stringify({ heartbeat: { source: 'file', path: join(share, '{host}', 'heartbeat.json'), interval: '1s' }, daemon: { jitter: 0 } }));
    const env = { HOME: dir.path, XDG_CONFIG_HOME: dir.path, PATH: process.env.PATH ?? '', MACCT_WORKER_CONF: join(dir.path, 'none.conf') };
    const io = IOStreams.test();
    const signals = new RunSignals();
    const daemon = run(['--json', '--config', config, '--hosts', inventory, '--db', `sqlite:${dbPath}`, 'daemon', '--only', 'heartbeat,api', '--listen', '127.0.0.1:0'], { io, env, signals });
    try {
      await waitFor(() => /listening/.test(io.outText()) || io.errText().includes('"level":50'), 'the API to listen', 30_000);
      const base = JSON.parse(io.outText().trim().split('\n')[0]!).listening as string;
      await waitFor(async () => (await health(base)).runs >= 2, 'two heartbeat runs', 60_000);
      const steady = (await health(base)).report;
      assert.deepEqual([steady.read, steady.unchanged, steady.ok], [0, 6, 6], JSON.stringify(steady));

      // the next minute: two stations wrote normally, three were caught at a bad moment
      const runs = (await health(base)).runs;
      write('ws-01', 1);
      write('ws-02', 1);
      const torn = join(share, 'ws-03', 'heartbeat.json');
      writeFileSync(torn, readFileSync(torn, 'utf8').slice(0, 400)); // written in place, half done
      rmSync(join(share, 'ws-04', 'heartbeat.json'));
      rmSync(join(share, 'ws-05', 'heartbeat.json'));
      mkdirSync(join(share, 'ws-05', 'heartbeat.json'));
      // a run that began before the writes may have seen some of them; once every change was seen, the good ones are
      // unchanged again while the bad ones are looked at again in every run
      let bad: Record<string, number> = {};
      await waitFor(async () => {
        const h = await health(base);
        bad = h.report;
        return h.runs >= runs + 2 && bad.unchanged === 3;
      }, 'a run after the writes in which the rewritten stations are unchanged again', 60_000);
      assert.deepEqual([bad.read, bad.unchanged, bad.malformed, bad.missing, bad.unreadable, bad.failed], [3, 3, 1, 1, 1, 3], JSON.stringify(bad));

      const db = new Database(dbPath, { readonly: true });
      try {
        const rows = db.prepare('SELECT h.name, hb.raw_json FROM lab_host_heartbeat hb JOIN lab_hosts h ON h.id = hb.host_id ORDER BY hb.id').all() as { name: string; raw_json: string }[];
        assert.equal(rows.length, 8, 'six first heartbeats and the two new ones');
        for (const r of rows) assert.equal((JSON.parse(r.raw_json) as { host: string }).host, r.name.toUpperCase(), 'every stored heartbeat is whole');
      } finally {
        db.close();
      }
    } finally {
      signals.receive('SIGTERM');
      assert.equal(await daemon, 0, io.errText().slice(-2000));
    }
  });
});
