// `labops dhcp-patch` runs on every device import: its module graph must not reach the database,
// SSH, WinRM, Redis or zod. Static imports from main.ts plus everything the dhcp-patch action loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function imports(file: string, dynamic: boolean): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) out.push(m[1] ?? m[2]!);
  if (dynamic) for (const m of text.matchAll(/import\('([^']+)'\)/g)) out.push(m[1]!);
  return out;
}

function graph(roots: string[], dynamicIn: (f: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    const f = queue.shift()!;
    if (seen.has(f)) continue;
    seen.add(f);
    if (!f.startsWith('/')) continue; // a package
    for (const spec of imports(f, dynamicIn(f))) {
      if (spec.startsWith('.')) {
        const ts = resolve(dirname(f), spec).replace(/\.js$/, '.ts');
        if (existsSync(ts)) queue.push(ts);
      } else queue.push(spec);
    }
  }
  return seen;
}

// (chalk and cli-table3 are reachable only through the --dry-run table rendering.)
test('dhcp-patch loads no database, SSH, WinRM, Redis or zod module', () => {
  const dhcpFiles = (f: string) => f.includes('dhcp-patch') || f.includes('/core/fs/') || f.includes('/domain/');
  const all = graph([join(SRC, 'cli/main.ts'), join(SRC, 'cli/commands/dhcp-patch.ts')], dhcpFiles);
  const forbidden = [...all].filter((m) => /^(zod|kysely|better-sqlite3|mysql2|ssh2|ioredis|pino|@inquirer|ora)/.test(m) || /\/core\/(db|ssh|winrm|ntlm|streams|http-apis)\//.test(m) || m.endsWith('/core/config/load.ts'));
  assert.deepEqual(forbidden, []);
  assert.ok(all.has(join(SRC, 'ops/dhcp-patch.ts')), 'the graph walk follows the action');
  assert.ok(all.has(join(SRC, 'core/fs/atomic-write.ts')));
});
