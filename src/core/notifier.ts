// Placeholder until the shared notify hook lands: no notifier configured.
import type { LabopsConfig } from './config/load.js';

export interface Notifier {
  send(kind: string, events: readonly unknown[]): Promise<void>;
}

export function createNotifier(_cfg: LabopsConfig): Notifier | undefined {
  return undefined;
}
