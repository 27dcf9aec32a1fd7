// The WinRM heartbeat source, and the shape every source has (the file source is heartbeat-file-source.ts).
import { OperationFailed } from '../domain/errors.js';
import { StationFileTooLarge } from '../domain/heartbeat/decode.js';
import type { InventoryHost } from './config/inventory.js';
import type { WinRMClient } from './winrm/client.js';

type StationFile = 'heartbeat' | 'events' | 'service-state';

export interface ClosableHeartbeatSource {
  readonly kind: 'winrm' | 'file';
  read(host: InventoryHost, file: StationFile, signal?: AbortSignal): Promise<Uint8Array | null>;
  readMany?(host: InventoryHost, files: readonly StationFile[], signal?: AbortSignal): Promise<Array<Uint8Array | null | Error>>;
  version?(host: InventoryHost, files: readonly StationFile[]): Promise<string>;
  describe(host: InventoryHost, file: StationFile): string;
  close?(): Promise<void> | void;
}

function windowsPath(host: InventoryHost, file: StationFile): string {
  if (file === 'heartbeat') return host.heartbeatPath;
  if (file === 'events') return host.eventsPath;
  return `${host.heartbeatPath.replace(/\\[^\\]*\\[^\\]*$/, '')}\\service-state.ini`;
}

/**
 * Reads the station files over WinRM as bytes (base64 of [IO.File]::ReadAllBytes), so UTF-8 text, the BOM and
 * UTF-16LE survive, unlike Get-Content through the OEM code page. One client per host, kept alive across files.
 */
export class WinRMHeartbeatSource {
  readonly kind = 'winrm' as const;
  private readonly clients = new Map<string, WinRMClient>();
  constructor(
    private readonly connect: (host: InventoryHost) => WinRMClient,
    private readonly timeoutMs: number,
    /** heartbeat.max-size: a larger file is not transferred (the station looks at its size first) */
    private readonly maxBytes: number,
  ) {}

  describe(host: InventoryHost, file: StationFile): string {
    return `winrm://${host.address}/${windowsPath(host, file)}`;
  }

  private client(host: InventoryHost): WinRMClient {
    let client = this.clients.get(host.name);
    if (!client) {
      client = this.connect(host);
      this.clients.set(host.name, client);
    }
    return client;
  }

  async read(host: InventoryHost, file: StationFile, signal?: AbortSignal): Promise<Uint8Array | null> {
    const [r] = await this.readMany(host, [file], signal);
    if (r instanceof Error) throw r;
    return r!;
  }

  /** The files in one command (one shell and one powershell.exe on the station per poll, not one per file). */
  async readMany(host: InventoryHost, files: readonly StationFile[], signal?: AbortSignal): Promise<Array<Uint8Array | null | Error>> {
    const paths = files.map((f) => windowsPath(host, f));
    const outcomes = await this.client(host).readFiles(paths, { signal, deadlineMs: this.timeoutMs, maxBytes: this.maxBytes });
    return outcomes.map((o, i) => {
      if ('bytes' in o) return o.bytes;
      if ('missing' in o) return null;
      if ('tooLarge' in o) return new StationFileTooLarge(o.tooLarge, this.maxBytes);
      return new OperationFailed(`reading ${paths[i]} on ${host.name} failed: ${o.error}`);
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}
