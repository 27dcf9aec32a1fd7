// What the provisioning ops need from the outside; core/ssh's SshRunner and core/db's CollectorRepo fit.
import type { RemoteResult, SshEndpoint } from '../../core/ssh/client.js';

export type RemoteEndpoint = SshEndpoint;

export interface RemoteRunner {
  run(target: RemoteEndpoint, command: string, o: { timeoutMs: number; signal?: AbortSignal }): Promise<RemoteResult>;
}

/** Key or agent auth used beside (or instead of) the passwords stored in the tables. */
export interface ExtraAuth {
  privateKey?: Buffer;
  passphrase?: string;
  agent?: string;
  /** SSH user when a row names none */
  defaultUser?: string;
}
