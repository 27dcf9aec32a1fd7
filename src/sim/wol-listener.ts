// The simulator's Wake-on-LAN receiver: one UDP socket on loopback; each magic packet boots the
// station with that MAC. Nothing is ever sent from here.
import { createSocket, type Socket } from 'node:dgram';
import { macFromMagicPacket } from '../domain/mac.js';

export class WolListener {
  private socket: Socket | undefined;
  port = 0;
  received = 0;

  constructor(private readonly onMagic: (mac: string) => void) {}

  async start(address: string, port: number): Promise<number> {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    socket.on('message', (msg) => {
      const mac = macFromMagicPacket(msg);
      if (!mac) return;
      this.received++;
      this.onMagic(mac);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    this.socket = socket;
    this.port = socket.address().port;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
