// One simulated Lab Station host: powered off it answers nothing; a magic packet for its MAC boots it,
// and after the boot delay it accepts TCP on its service port (the WinRM port, used by TCP probes).
import { createServer, type Server, type Socket } from 'node:net';

export type PowerState = 'off' | 'booting' | 'on';

export interface StationSpec {
  name: string;
  address: string;
  mac: string;
  /** 0 picks a free port when the station first boots, then keeps it */
  port: number;
  bootDelayMs: number;
}

export class SimStation {
  state: PowerState = 'off';
  port: number;
  /** how many magic packets reached this station */
  packets = 0;
  boots = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private bootTimer: NodeJS.Timeout | undefined;

  constructor(readonly spec: StationSpec) {
    this.port = spec.port;
  }

  get name(): string {
    return this.spec.name;
  }

  /** A magic packet arrived for this MAC. */
  wake(): void {
    this.packets++;
    if (this.state !== 'off') return;
    this.state = 'booting';
    this.bootTimer = setTimeout(() => {
      this.bootTimer = undefined;
      void this.listen().catch(() => {
        this.state = 'off';
      });
    }, this.spec.bootDelayMs);
  }

  /** Reserve the port while off so the inventory can name it; the socket closes until boot. */
  async reservePort(): Promise<void> {
    if (this.port !== 0) return;
    await this.listen();
    await this.powerOff();
  }

  async powerOn(): Promise<void> {
    if (this.state === 'on') return;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = createServer((s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
      this.onConnection(s);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.spec.address, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    this.state = 'on';
    this.boots++;
  }

  /** Later parts of the simulator (WinRM) take over connections here. */
  protected onConnection(s: Socket): void {
    s.end();
  }

  async powerOff(): Promise<void> {
    if (this.bootTimer) clearTimeout(this.bootTimer);
    this.bootTimer = undefined;
    this.state = 'off';
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
