// Reads station files from a mounted share through a path template. Placeholders: {host} (inventory name),
// {address}, and {winpath} (the inventory's Windows path without the drive colon, `/` separated:
// C:\LabStation\labstation\data\telemetry\heartbeat.json -> C/LabStation/labstation/data/telemetry/heartbeat.json).
import { readFile as readFileCb } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, join, posix } from 'node:path';
import type { InventoryHost } from './config/inventory.js';
import { UsageError } from '../domain/errors.js';

// The callback readFile: fs/promises' readFile costs about three times its CPU per small file (bench/heartbeat).
const readFile = promisify(readFileCb);

type StationFile = 'heartbeat' | 'events' | 'service-state';

export function windowsPathToRelative(p: string): string {
  return p.replace(/^([A-Za-z]):/, '$1').replace(/\\/g, '/').replace(/^\/+/, '');
}

/** A template must name the host, or every station would read the same file. */
export function checkTemplate(template: string): void {
  if (!/\{(host|address|winpath)\}/.test(template)) throw new UsageError(`file source path template '${template}' names no host: use {host}, {address} or {winpath}`);
}

export class FileHeartbeatSource {
  readonly kind = 'file' as const;
  constructor(private readonly template: string) {}

  private winPath(host: InventoryHost, file: StationFile): string {
    if (file === 'heartbeat') return host.heartbeatPath;
    if (file === 'events') return host.eventsPath;
    // service-state.ini sits in data\, one level above telemetry\.
    return `${host.heartbeatPath.replace(/\\[^\\]*\\[^\\]*$/, '')}\\service-state.ini`;
  }

  path(host: InventoryHost, file: StationFile): string {
    const fill = (t: string, w: string) => t.replaceAll('{host}', host.name).replaceAll('{address}', host.address).replaceAll('{winpath}', windowsPathToRelative(w));
    if (this.template.includes('{winpath}')) return fill(this.template, this.winPath(host, file));
    // A template naming heartbeat.json itself: the other files are its neighbours, as on the station.
    const hb = fill(this.template, host.heartbeatPath);
    if (file === 'heartbeat') return hb;
    if (file === 'events') return join(dirname(hb), posix.basename(windowsPathToRelative(host.eventsPath)));
    return join(dirname(dirname(hb)), 'service-state.ini');
  }

  describe(host: InventoryHost, file: StationFile): string {
    return this.path(host, file);
  }

  async read(host: InventoryHost, file: StationFile): Promise<Uint8Array | null> {
    try {
      return await readFile(this.path(host, file));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      throw new Error(`${this.path(host, file)}: cannot read (${code ?? (e as Error).message})`);
    }
  }
}
