// The physical floor of the scale benchmark, in a process of its own (its CPU is read from /proc): the least
// work that ingests one interval of the share into MariaDB. Per round, for every station: stat the events file
// and service-state.ini, stat and read heartbeat.json, JSON.parse it after the BOM, and insert one row per
// station with multi-row INSERTs (500 rows each, one transaction per batch). Nothing else: no decoding of the
// quirks, no dedup, no alerts, no per-host state.
// argv: one JSON document {share, stations, dbUrl, rounds}. Prints one JSON line: per round wall and CPU ms.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createPool } from 'mysql2/promise';
import { stationName } from './share-writer.js';

interface FloorOptions {
  share: string;
  stations: number;
  dbUrl: string;
  rounds: number;
}

const BOM = 0xfeff;
const BATCH = 500;

function dbTime(ts: string): string {
  return ts.slice(0, 19).replace('T', ' ');
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as FloorOptions;
  const pool = createPool({ uri: o.dbUrl, connectionLimit: 4 });
  await pool.query('CREATE TABLE IF NOT EXISTS floor_heartbeat (id BIGINT AUTO_INCREMENT PRIMARY KEY, host VARCHAR(128) NOT NULL, timestamp_utc DATETIME NOT NULL, raw_json LONGTEXT NOT NULL, KEY idx_host_ts (host, timestamp_utc))');
  const rounds: { wallMs: number; cpuMs: number; rows: number; failed: number }[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let rows = 0;
    let failed = 0;
    for (let start = 0; start < o.stations; start += BATCH) {
      const batch: [string, string, string][] = [];
      await Promise.all(
        Array.from({ length: Math.min(BATCH, o.stations - start) }, async (_, k) => {
          const host = stationName(start + k);
          const data = join(o.share, host, 'labstation', 'data');
          try {
            await Promise.all([stat(join(data, 'telemetry', 'session-guard-events.jsonl')).catch(() => null), stat(join(data, 'service-state.ini')).catch(() => null)]);
            const path = join(data, 'telemetry', 'heartbeat.json');
            await stat(path);
            let text = await readFile(path, 'utf8');
            if (text.charCodeAt(0) === BOM) text = text.slice(1);
            const doc = JSON.parse(text) as { timestamp: string };
            batch.push([host, dbTime(doc.timestamp), text]);
          } catch {
            failed++;
          }
        }),
      );
      if (batch.length) {
        await pool.query('INSERT INTO floor_heartbeat (host, timestamp_utc, raw_json) VALUES ?', [batch]);
        rows += batch.length;
      }
    }
    const cpu = process.cpuUsage(cpu0);
    rounds.push({ wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, rows, failed });
  }
  await pool.end();
  process.stdout.write(`${JSON.stringify({ rounds })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
