// Sends Wake-on-LAN magic packets through the `wake_on_lan` package (it sets SO_BROADCAST and repeats).
import { createRequire } from 'node:module';
import { parseMac } from '../../domain/mac.js';

interface WakeOnLan {
  wake(mac: string, opts: { address: string; port: number; num_packets: number; interval: number }, cb: (err?: Error | null) => void): void;
}

const require = createRequire(import.meta.url);
let wol: WakeOnLan | undefined;

export interface MagicPacketTarget {
  mac: string;
  address: string;
  port: number;
  /** packets per call */
  repeat: number;
  /** gap between repeated packets */
  gapMs?: number;
}

export function sendMagicPacket(t: MagicPacketTarget): Promise<void> {
  wol ??= require('wake_on_lan') as WakeOnLan;
  const mac = parseMac(t.mac);
  if (!mac) return Promise.reject(new Error(`not a MAC address: ${t.mac}`));
  return new Promise((resolve, reject) => {
    wol!.wake(mac, { address: t.address, port: t.port, num_packets: Math.max(1, t.repeat), interval: t.gapMs ?? 20 }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}
