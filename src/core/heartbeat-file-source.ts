// Reads station files from a mounted share through a path template. Placeholders: {host} (inventory name),
// {address}, and {winpath} (the inventory's Windows path without the drive colon, `/` separated:
// C:\LabStation\labstation\data\telemetry\heartbeat.json -> C/LabStation/labstation/data/telemetry/heartbeat.json).
import { close, fstat, open, read, stat } from 'node:fs';
import { promisify } from 'node:util';
import { dirname, join, posix } from 'node:path';
import type { InventoryHost } from './config/inventory.js';
import { UsageError } from '../domain/errors.js';
import { StationFileTooLarge } from '../domain/heartbeat/decode.js';

// The callback API: fs/promises costs about three times the CPU per small file (bench/heartbeat).
const openFile = promisify(open);
const statFd = promisify(fstat);
const readFd = promisify(read);
const closeFd = promisify(close);
const statPath = promisify(stat);

/**
 * A file's bytes, its size looked at before anything is read: a file larger than `maxBytes` is refused unread
 * (StationFileTooLarge), and one that grows while it is read is never read past `maxBytes`.
 */
export async function readBounded(path: string, maxBytes: number): Promise<Buffer> {
  const fd = await openFile(path, 'r');
  try {
    const { size } = await statFd(fd);
    if (size > maxBytes) throw new StationFileTooLarge(size, maxBytes);
    // one byte past the size: the read that returns nothing is how the end is known (a file may grow while it is read)
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, size + 1));
    let filled = 0;
    for (;;) {
      if (filled === buf.length) {
        if (filled > maxBytes) throw new StationFileTooLarge(filled, maxBytes);
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const { bytesRead } = await readFd(fd, buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buf.subarray(0, filled);
  } finally {
    await closeFd(fd).catch(() => undefined);
  }
}

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
  constructor(
    private readonly template: string,
    /** heartbeat.max-size */
    private readonly maxBytes: number,
  ) {}

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

  /**
   * The files' identity and change times from one `stat` each: equal tokens mean no file was replaced, grown or
   * rewritten since, so the poll need not read them again (stations write every minute; the share is polled
   * more often). A file that cannot be looked at gets a token of its own and is read, and fails, as usual.
   */
  async version(host: InventoryHost, files: readonly StationFile[]): Promise<string> {
    const parts = await Promise.all(
      files.map(async (file) => {
        try {
          const st = await statPath(this.path(host, file));
          return `${st.isFile() ? 'f' : 'o'}${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
        } catch (e) {
          return `!${(e as NodeJS.ErrnoException).code ?? 'error'}`;
        }
      }),
    );
    return `${this.path(host, 'heartbeat')}|${parts.join('|')}`;
  }

  async read(host: InventoryHost, file: StationFile): Promise<Uint8Array | null> {
    try {
      return await readBounded(this.path(host, file), this.maxBytes);
    } catch (e) {
      if (e instanceof StationFileTooLarge) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      throw new Error(`${this.path(host, file)}: cannot read (${code ?? (e as Error).message})`);
    }
  }
}
