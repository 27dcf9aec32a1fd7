// examples/: the annotated config names every setting and loads once its comments are stripped; the systemd
// units run what they say with the hardening options on; the cron lines are well-formed; the inventory sample loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTING_DEFS as SETTINGS, defaultOf } from '../../src/core/config/settings.js';
import { loadConfig } from '../../src/core/config/load.js';
import { loadInventory } from '../../src/core/config/inventory.js';
import { parseCmlServers } from '../../src/core/config/cml.js';
import { parseNotifyConfig } from '../../src/core/notify.js';
import { tempDir } from '../support/tmp.js';

const EX = new URL('../../examples/', import.meta.url).pathname;

test('config.annotated.jsonc: every setting present and documented; loads as a config once the comments are stripped', () => {
  const text = readFileSync(join(EX, 'config.annotated.jsonc'), 'utf8');
  const json = text.split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n');
  const raw = JSON.parse(json) as Record<string, unknown>;
  const flat = new Map<string, unknown>();
  const walk = (o: Record<string, unknown>, p: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, p ? `${p}.${k}` : k);
      else flat.set(p ? `${p}.${k}` : k, v);
    }
  };
  walk(raw, '');
  const missing = SETTINGS.filter((s) => !flat.has(s.key)).map((s) => s.key);
  assert.deepEqual(missing, [], 'settings missing from the annotated config');
  for (const s of SETTINGS) assert.ok(text.includes(`// ${s.description}`), `${s.key}: description comment`);
  // The comment under each description states the current default (paths shown under ~).
  const lines = text.split('\n');
  for (const s of SETTINGS) {
    const d = defaultOf(s, { HOME: '~' });
    if (d === undefined) continue;
    const at = lines.findIndex((l) => l.trim() === `// ${s.description}`);
    assert.match(lines[at + 1] ?? '', new RegExp(`default "${d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), `${s.key}: default comment`);
  }
  const dir = tempDir();
  try {
    const file = join(dir.path, 'config.json');
    writeFileSync(file, json);
    const cfg = loadConfig({ configPath: file, env: {} });
    assert.equal(cfg.get('heartbeat.poll-enabled'), 'true');
    assert.equal(cfg.value('daemon.lease'), 30_000);
    assert.equal(parseCmlServers(cfg.raw, file).length, 1);
    assert.ok(parseNotifyConfig(cfg.raw, file));
  } finally {
    dir.cleanup();
  }
});

test('systemd units: the daemon service is hardened and reloads with SIGHUP; every timer has its service', () => {
  const dir = join(EX, 'systemd');
  const unit = readFileSync(join(dir, 'labops-daemon.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/labops daemon /m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  for (const k of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'SystemCallFilter=@system-service', 'RestrictAddressFamilies=']) assert.ok(unit.includes(k), k);
  assert.ok(Number(/^TimeoutStopSec=(\d+)/m.exec(unit)![1]) > 30, 'stop timeout above daemon.stop-timeout');
  const files = readdirSync(dir);
  const timers = files.filter((f) => f.endsWith('.timer'));
  assert.ok(timers.length >= 4);
  for (const t of timers) {
    const svc = readFileSync(join(dir, t.replace(/\.timer$/, '.service')), 'utf8');
    assert.match(svc, /^Type=oneshot$/m, t);
    assert.match(svc, /^ExecStart=\/usr\/bin\/labops (heartbeat poll --all|reserve scan --once|labs sync|servers check --once|provision cleanup --once)$/m, t);
    assert.match(readFileSync(join(dir, t), 'utf8'), /^OnUnitActiveSec=/m, t);
  }
});

test('cron lines: five time fields, a user, /usr/bin/labops under flock', () => {
  const lines = readFileSync(join(EX, 'cron', 'labops.cron'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#') && !/^[A-Z_]+=/.test(l));
  assert.ok(lines.length >= 6);
  for (const l of lines) assert.match(l, /^(\S+\s+){5}labops\s+(flock -n \S+ )?\/usr\/bin\/labops /, l);
});

test('hosts.fleet.json loads; the quarantined host is flagged', () => {
  const inv = loadInventory(join(EX, 'hosts.fleet.json'), true);
  assert.equal(inv.hosts.length, 4);
  assert.deepEqual(inv.hosts.filter((h) => h.quarantined).map((h) => h.name), ['lab-b-ws-02']);
});
