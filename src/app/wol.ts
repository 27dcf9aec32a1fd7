// labops wol and the wake step: targets resolved against the inventory and the wol.* settings (all input
// checked before any packet), then magic packets and boot probes through the real network ports.
import type { AppContext } from './context.js';
import type { WakeHostResult, WakeRequest, WakeResult } from '../ops/wake.js';
import { wakeSettings } from './settings.js';

export type WakeOptions = Omit<WakeRequest, 'noWait'> & { wait: boolean };

export async function wakeHosts(ctx: AppContext, o: WakeOptions, onHost?: (r: WakeHostResult, targets: number) => void): Promise<WakeResult> {
  const [cfg, index, { resolveWakeTargets, wake }] = await Promise.all([ctx.config(), ctx.inventory(), import('../ops/wake.js')]);
  const d = wakeSettings(cfg);
  const targets = resolveWakeTargets(o, index, d);
  const [{ sendMagicPacket }, { probe }] = await Promise.all([import('../core/net/magic-packet.js'), import('../core/net/probe.js')]);
  return wake(
    targets,
    { repeat: o.repeat ?? d.repeat, intervalMs: o.intervalMs ?? d.intervalMs, timeoutMs: o.timeoutMs ?? d.timeoutMs, concurrency: o.concurrency ?? d.concurrency, noWait: !o.wait },
    { sendMagicPacket, probe, sleep: ctx.clock.sleep, now: ctx.clock.now },
    ctx.signal,
    onHost && ((r) => onHost(r, targets.length)),
  );
}
