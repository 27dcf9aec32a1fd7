// labops wol: flags -> options -> app wakeHosts -> render -> outcomes.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, intArg, ipArg, probeArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act, listing } from '../action.js';
import type { ProbeSpec } from '../../domain/probe-spec.js';
import type { Outcome } from '../../domain/outcome.js';
import type { WakeHostResult, WakeResult } from '../../ops/wake.js';
import type { WakeOptions } from '../../app/wol.js';

export type WolOptions = WakeOptions;

export function registerWol(parent: Command, f: Factory): Command {
  const cmd = parent
    .command('wol')
    .summary('wake hosts with magic packets and wait until they answer')
    .description(
      'Send Wake-on-LAN magic packets to inventory hosts or MAC addresses, then validate the boot with an ICMP ' +
        'ping or a TCP connect, re-sending the packet on every attempt. Hosts run in parallel (--concurrency). ' +
        'Precedence for packet settings: flags > inventory (broadcast, wol_port, wake_attempts, probe) > config > defaults.',
    )
    .argument('[target...]', 'inventory host names or MAC addresses (aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff, aabbccddeeff)')
    .option('--all', 'every host in the inventory (quarantined hosts excepted)')
    .option('--broadcast <addr>', 'destination address of the magic packet (default 255.255.255.255)', ipArg)
    .option('--port <n>', 'UDP port of the magic packet (default 9)', intArg(1, 65535))
    .option('--repeat <n>', 'magic packets per attempt (default 3)', intArg(1, 100))
    .option('--no-wait', 'only send the packets; do not wait for the hosts')
    .option('--probe <spec>', "boot probe: 'icmp' (system ping) or 'tcp:<port>' (default: the host's probe, else icmp)", probeArg)
    .option('--attempts <n>', 'attempts per host (default: the host\'s wake_attempts, else 3)', intArg(1, 100))
    .option('--interval <dur>', 'wait after each packet before probing (default 10s)', durationArg)
    .option('--timeout <dur>', 'probe timeout (default 10s)', durationArg)
    .option('--concurrency <n>', 'hosts woken at once (default 64)', intArg(1, 4096));
  act(listing(cmd), f, wolOptions, runWol);
  return helpAfter(
    cmd,
    'Examples:\n  labops wol lab-ws-01 lab-ws-02\n  labops wol --all --probe tcp:5986 --attempts 5 --interval 15s\n  labops wol 00:11:22:33:44:55 --broadcast 10.0.0.255 --no-wait\n\nExit: 0 all up, 3 none reached, 5 some reached, 2 bad input (nothing sent).',
  );
}

interface WolFlags {
  all?: boolean;
  broadcast?: string;
  port?: number;
  repeat?: number;
  wait: boolean;
  probe?: ProbeSpec;
  attempts?: number;
  interval?: number;
  timeout?: number;
  concurrency?: number;
}

export function wolOptions(targets: string[], o: WolFlags): WolOptions {
  return {
    targets,
    all: Boolean(o.all),
    broadcast: o.broadcast,
    port: o.port,
    repeat: o.repeat,
    wait: o.wait,
    probe: o.probe,
    attempts: o.attempts,
    intervalMs: o.interval,
    timeoutMs: o.timeout,
    concurrency: o.concurrency,
  };
}

export async function runWol(f: Factory, o: WolOptions): Promise<Outcome[]> {
  const [{ wakeHosts }, { startProgress }] = await Promise.all([import('../../app/wol.js'), import('../io/spinner.js')]);
  const progress = await startProgress(f.io, 'waking host(s)');
  let up = 0;
  let done = 0;
  let result: WakeResult;
  try {
    result = await wakeHosts(f, o, (r, total) => {
      done++;
      if (r.success) up++;
      progress.update(`waking ${total} host(s): ${done} done, ${up} up`);
    });
  } finally {
    progress.stop();
  }
  await renderWake(f, result);
  return result.hosts.map(wakeOutcome);
}

/** A host that did not answer is unreachable; one that could not be woken at all (no MAC) is bad input. */
function wakeOutcome(r: WakeHostResult): Outcome {
  if (r.success) return 'ok';
  if (r.status === 'aborted') return 'interrupted';
  return r.status === 'error' && r.mac === null ? 'usage' : 'unreachable';
}

const STATUS_TEXT: Record<WakeHostResult['status'], string> = {
  woke: 'woke',
  'already-up': 'already up',
  'no-response': 'did not respond',
  sent: 'packet sent',
  error: 'error',
  aborted: 'interrupted',
};

async function renderWake(f: Factory, result: WakeResult): Promise<void> {
  if (f.io.json) return f.io.printJson(result);
  const { renderTable } = await import('../io/render.js');
  renderTable<WakeHostResult>(
    f.io,
    [
      { header: 'HOST', value: (r) => r.host },
      {
        header: 'STATUS',
        value: (r) => r.status,
        pretty: (r, c) => (r.success ? c.green : r.status === 'aborted' ? c.yellow : c.red)(STATUS_TEXT[r.status]),
      },
      { header: 'ATTEMPTS', value: (r) => `${r.attemptsUsed}/${r.attemptsRequested}` },
      { header: 'WAITED', value: (r) => (r.durationMs / 1000).toFixed(1), pretty: (r) => `${(r.durationMs / 1000).toFixed(1)}s` },
      { header: 'MAC', value: (r) => r.mac ?? '-' },
      { header: 'DETAIL', flex: true, value: (r) => r.message },
    ],
    result.hosts,
  );
  if (f.io.stdoutIsTTY) f.io.info(`${result.up} of ${result.hosts.length} host(s) up`);
}
