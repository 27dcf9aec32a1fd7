import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { shJoin, shQuote } from '../../src/domain/shell-quote.js';
import { cleanupArgv, minutesLeft, parseContract, provisionArgv } from '../../src/domain/provision-contract.js';
import { backoffDelayMs } from '../../src/domain/backoff.js';
import { decideCleanup, decideProvision, resolveTarget } from '../../src/domain/provision-outcome.js';
import { combineOutcomes as passOutcome } from '../../src/domain/outcome.js';
import { formatDbTime, parseDbTime } from '../../src/domain/db-time.js';

test('shQuote: plain words stay, everything else is single-quoted; a local sh splits it back exactly', () => {
  assert.equal(shQuote('user-1_x'), 'user-1_x');
  assert.equal(shQuote("it's"), `'it'\\''s'`);
  assert.equal(shQuote(''), "''");
  const args = [`a'b"c`, 'x; rm -rf /', '$(id)', '`id`', 'sp  ace', '\\', 'new\nline', '*', '!'];
  const r = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${shJoin(args)}`], { encoding: 'utf8' });
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), args);
  assert.throws(() => shQuote('a\0b'));
});

test('argument contracts: collector (default) and provision-worker', () => {
  const s = { username: 'bob', namespace: 'lab-bob', accessExpiryMs: Date.UTC(2026, 0, 1, 1, 0, 30) };
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  assert.deepEqual(provisionArgv('collector', '/opt/p.sh', s, now), ['bash', '/opt/p.sh', 'bob', 'lab-bob']);
  assert.deepEqual(provisionArgv('provision-worker', '/opt/p.sh', s, now), ['sudo', '/opt/p.sh', 'bob', '60', 'lab-bob']);
  assert.deepEqual(cleanupArgv('provision-worker', '/opt/c.sh', s), ['sudo', '/opt/c.sh', 'bob']);
  assert.deepEqual(cleanupArgv('collector', '/opt/c.sh', s), ['bash', '/opt/c.sh', 'bob', 'lab-bob']);
  assert.equal(minutesLeft(now - 5, now), 1);
  assert.equal(parseContract('nope'), undefined);
});

test('backoff doubles from the base and stops at the cap', () => {
  const p = { baseMs: 30_000, maxMs: 900_000 };
  assert.deepEqual([1, 2, 3, 6, 50].map((a) => backoffDelayMs(a, p)), [30_000, 60_000, 120_000, 900_000, 900_000]);
});

test('outcome mapping: exit 0 ACTIVE, non-zero/timeout FAILED, unreachable retried with backoff, auth/host key FAILED', () => {
  assert.deepEqual(decideProvision({ kind: 'exited', code: 0, stderr: '' }), { status: 'ACTIVE', provisioned: 1 });
  assert.equal(decideProvision({ kind: 'exited', code: 2, stderr: 'x' }).status, 'FAILED');
  assert.match((decideProvision({ kind: 'timeout', afterMs: 60_000 }) as { reason: string }).reason, /timed out after 60s/);
  assert.deepEqual(decideProvision({ kind: 'unreachable', message: 'ECONNREFUSED' }), { status: 'REQUESTED', reason: 'host unreachable: ECONNREFUSED', backoff: true, category: 'unreachable' });
  assert.equal(decideProvision({ kind: 'auth', message: 'm' }).status, 'FAILED');
  assert.equal(decideProvision({ kind: 'hostkey', message: 'm' }).status, 'FAILED');
  assert.deepEqual(decideProvision({ kind: 'interrupted' }), { status: 'REQUESTED', reason: 'interrupted before the script finished; released for a later run', backoff: false, category: 'interrupted' });
  assert.deepEqual(decideCleanup({ kind: 'exited', code: 0, stderr: '' }), { done: true });
  assert.equal(decideCleanup({ kind: 'auth', message: 'x' }).done, false);
});

test('pass outcome: ok, partial, the common failure', () => {
  assert.equal(passOutcome([]), 'ok');
  assert.equal(passOutcome(['ok', 'ok']), 'ok');
  assert.equal(passOutcome(['ok', 'failed']), 'partial');
  assert.equal(passOutcome(['auth', 'auth']), 'auth');
  assert.equal(passOutcome(['auth', 'unreachable']), 'failed');
});

test('target: bastion wins and means "run it there"; ssh_port honoured; user/password fall back independently', () => {
  const server = { ip_address: '10.0.0.5', ssh_user: 'root', ssh_password: 'pw', ssh_port: 2222 };
  assert.deepEqual(resolveTarget(server, undefined), { host: '10.0.0.5', port: 2222, username: 'root', password: 'pw', viaBastion: false });
  assert.deepEqual(resolveTarget({ ...server, bastion_host: 'bastion', bastion_user: null, bastion_password: 'bpw' }, undefined), { host: 'bastion', port: 22, username: 'root', password: 'bpw', viaBastion: true });
  assert.equal((resolveTarget({ ...server, bastion_host: 'b:2200' }, undefined) as { port: number }).port, 2200);
  assert.match((resolveTarget({ ip_address: null, ssh_user: 'u', ssh_password: null, ssh_port: null }, undefined) as { error: string }).error, /no target host/);
  assert.match((resolveTarget({ ip_address: 'h', ssh_user: null, ssh_password: null, ssh_port: null }, undefined) as { error: string }).error, /no SSH user/);
  assert.equal((resolveTarget({ ip_address: 'h', ssh_user: null, ssh_password: null, ssh_port: 0 }, 'ops') as { username: string; port: number }).port, 22);
});

test('db times: no offset = UTC, Z, offsets, fractions', () => {
  const t = Date.UTC(2026, 0, 2, 3, 4, 5);
  assert.equal(parseDbTime('2026-01-02 03:04:05'), t);
  assert.equal(parseDbTime('2026-01-02T03:04:05Z'), t);
  assert.equal(parseDbTime('2026-01-02T05:04:05+02:00'), t);
  assert.equal(parseDbTime('2026-01-02 03:04:05.250'), t + 250);
  assert.equal(parseDbTime(null), null);
  assert.equal(parseDbTime('garbage'), null);
  assert.equal(formatDbTime(t), '2026-01-02 03:04:05');
});
