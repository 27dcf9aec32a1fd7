// POST /api/winrm refuses an argument that cannot reach LabStation.exe exactly through the cmd shell with 400, before
// any connection (the allow-list check both the API and `labops exec` call), and passes free text to the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleApi, type OpsApiDeps } from '../../src/ops/api/routes.js';
import { HostIndex, parseInventory } from '../../src/core/config/inventory.js';

test('/api/winrm: 400 naming the argument and character for % and quotes; free text with & and spaces runs', async () => {
  const runs: string[][] = [];
  let connects = 0;
  const index = new HostIndex(parseInventory(JSON.stringify({ hosts: [{ name: 'lab-ws-01', address: '10.0.0.1' }] }), 'h.json'));
  const deps = {
    index: () => index,
    settings: { commandTimeoutMs: 30_000 },
    policy: { allowedCommands: ['power', 'session'], allowedTransports: ['ntlm'] },
    ports: {
      connect: () => {
        connects++;
        return { run: async (_exe: string, args: readonly string[]) => (runs.push([...args]), { exitCode: 0, stdout: 'ok\n', stderr: '', durationMs: 1 }), close: () => {} };
      },
      now: () => 0,
    },
  } as unknown as OpsApiDeps;
  const post = (body: unknown) => handleApi({ method: 'POST', path: '/api/winrm', query: new URLSearchParams(), headers: {}, body: Buffer.from(JSON.stringify(body)) }, deps);
  for (const [args, want] of [
    [['shutdown', '--reason=50% done'], /argument 3 "--reason=50% done" contains '%'/],
    [['guard', '--message=say "hi"'], /argument 3 .* contains '"'/],
  ] as const) {
    const r = await post({ host: 'lab-ws-01', command: args[0] === 'guard' ? 'session' : 'power', args });
    assert.equal(r.status, 400);
    assert.match(String((r.body as { error: string }).error), want);
  }
  assert.equal(connects, 0, 'nothing was connected');
  const ok = await post({ host: 'lab-ws-01', command: 'session', args: ['guard', '--message=Back in 5 minutes & more'] });
  assert.equal(ok.status, 200);
  assert.deepEqual(runs, [['session', 'guard', '--message=Back in 5 minutes & more']]);
});
