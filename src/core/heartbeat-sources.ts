// Builds the heartbeat source an operator chose: a mounted share (file) or WinRM.
import { UsageError } from '../domain/errors.js';
import type { LabopsConfig } from './config/load.js';
import type { InventoryHost } from './config/inventory.js';
import { FileHeartbeatSource } from './heartbeat-file-source.js';

type StationFile = 'heartbeat' | 'events' | 'service-state';

export interface ClosableHeartbeatSource {
  readonly kind: 'winrm' | 'file';
  read(host: InventoryHost, file: StationFile, signal?: AbortSignal): Promise<Uint8Array | null>;
  describe(host: InventoryHost, file: StationFile): string;
  close?(): Promise<void> | void;
}

export async function createHeartbeatSource(kind: 'winrm' | 'file', o: { template: string; cfg: LabopsConfig; timeoutMs: number }): Promise<ClosableHeartbeatSource> {
  if (kind === 'file') {
    if (!/\{(host|address|winpath)\}/.test(o.template)) throw new UsageError(`file source path template '${o.template}' names no host: use {host}, {address} or {winpath}`);
    return new FileHeartbeatSource(o.template);
  }
  throw new UsageError('the WinRM heartbeat source is not available in this build; use --source file');
}
