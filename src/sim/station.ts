// One simulated Lab Station host: powered off it answers nothing; a magic packet for its MAC boots it,
// and after the boot delay it accepts TCP on its service port (the WinRM port, used by TCP probes).
import { createServer, type Server, type Socket } from 'node:net';
import type { StationRuntime } from './labstation/index.js';

export type PowerState = 'off' | 'booting' | 'on';

/** Stands in for the net server while the WinRM server owns the ports. */
const WINRM_MARKER = createServer();

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

  /** the LabStation.exe behaviour and files; power changes it makes (shutdown, reboot) reach the network side */
  runtime: StationRuntime | undefined;
  /** WinRM (HTTP on `port`, HTTPS on `httpsPort`) replaces the bare TCP listener when attached */
  winrm: { start(): Promise<void>; stop(): Promise<void>; drain(graceMs: number): Promise<void>; httpPort: number; httpsPort: number } | undefined;
  httpsPort = 0;
  /** time from magic packet to a running station (a `boot-delay` station fault changes it for this station) */
  bootDelayMs: number;
  private winrmDown = false;

  constructor(readonly spec: StationSpec) {
    this.port = spec.port;
    this.bootDelayMs = spec.bootDelayMs;
  }

  /** The WinRM listener is down (service stopped) while the station runs: its ports refuse connections. */
  get listenerDown(): boolean {
    return this.winrmDown;
  }

  async setListenerDown(down: boolean): Promise<void> {
    if (down === this.winrmDown || !this.winrm) return;
    this.winrmDown = down;
    if (this.state !== 'on') return;
    if (down) await this.winrm.stop();
    else await this.winrm.start();
  }

  attachRuntime(runtime: StationRuntime): void {
    this.runtime = runtime;
    runtime.onPower((state) => {
      if (state === 'on') {
        void this.listen().catch(() => {});
      } else if (this.state !== 'off') {
        // shutdown, hibernate, or the down phase of a reboot: the host stops answering
        void this.powerOff({ fromRuntime: true });
      }
    });
  }

  get name(): string {
    return this.spec.name;
  }

  /** A magic packet arrived for this MAC. */
  wake(): void {
    this.packets++;
    if (this.state !== 'off') return;
    // A NIC left without Wake on Magic Packet ignores the packet, as on real hardware.
    if (this.runtime && (!this.runtime.wakeOnLanWorks || this.runtime.power === 'booting')) return;
    this.state = 'booting';
    this.bootTimer = setTimeout(() => {
      this.bootTimer = undefined;
      if (this.runtime) {
        // the runtime's 'on' event starts the listener
        this.runtime.powerOn();
        if (this.runtime.power === 'on') void this.listen().catch(() => (this.state = 'off'));
        return;
      }
      void this.listen().catch(() => {
        this.state = 'off';
      });
    }, this.bootDelayMs);
  }

  /** Reserve the port while off so the inventory can name it; the socket closes until boot. */
  async reservePort(): Promise<void> {
    if (this.port !== 0) return;
    await this.listen();
    await this.powerOff();
  }

  async powerOn(): Promise<void> {
    if (this.state === 'on') return;
    if (this.runtime && this.runtime.power !== 'on') this.runtime.powerOn();
    await this.listen();
  }

  private listening: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  /** Start accepting connections; concurrent calls share one attempt. */
  private listen(): Promise<void> {
    if (this.server) return Promise.resolve();
    this.listening ??= this.startServer().finally(() => {
      this.listening = undefined;
    });
    return this.listening;
  }

  private async startServer(): Promise<void> {
    // a station powered on again while its last shutdown still drains: the old listener goes first
    await this.stopping;
    if (this.winrm) {
      if (!this.winrmDown) await this.winrm.start();
      this.port = this.winrm.httpPort;
      this.httpsPort = this.winrm.httpsPort;
      this.server = WINRM_MARKER;
      this.state = 'on';
      this.boots++;
      return;
    }
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

  /** Cut the power (tests, the simulator shutting down) or follow the runtime going down. */
  async powerOff(o: { fromRuntime?: boolean } = {}): Promise<void> {
    if (this.bootTimer) clearTimeout(this.bootTimer);
    this.bootTimer = undefined;
    this.state = 'off';
    const server = this.server;
    this.server = undefined;
    // after the state is off, so that the runtime's power event does not start a drain of its own: a cut is immediate
    if (!o.fromRuntime && this.runtime && this.runtime.power !== 'off') this.runtime.machine.powerCut();
    if (server === WINRM_MARKER) {
      // going down on its own (a power command): the reply in hand still goes out
      if (this.winrmDown) return;
      const stopping = (this.stopping = o.fromRuntime ? this.winrm!.drain(1000) : this.winrm!.stop());
      await stopping;
      if (this.stopping === stopping) this.stopping = undefined;
      return;
    }
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
