// Wiring shared by `provision sessions|cleanup` and `servers check`: the SSH runner (known_hosts policy,
// key/agent auth, jump host), the collector repository and the settings. Loaded only by their actions.
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Factory } from '../factory.js';
import { UsageError } from '../../domain/errors.js';
import { parseContract, type Contract } from '../../domain/provision-contract.js';
import { resolveSecret } from '../../core/config/secrets.js';
import { SshRunner, type HostKeyMode, type SshEndpoint } from '../../core/ssh/client.js';
import { CollectorRepo } from '../../core/db/repo-collector.js';
import type { ExtraAuth } from '../../ops/provisioning/ports.js';

export interface SshFlags {
  acceptNew?: boolean;
  jump?: string;
  knownHosts?: string;
}

export function parseJump(text: string): { username: string; host: string; port: number } {
  const m = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new UsageError(`jump host '${text}': expected user@host[:port]`);
  const port = m[3] ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) throw new UsageError(`jump host '${text}': port out of range`);
  return { username: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

export async function sshSetup(f: Factory, flags: SshFlags) {
  const cfg = await f.config();
  const policy = cfg.get('ssh.host-key-policy')!;
  if (policy !== 'strict' && policy !== 'accept-new') throw new UsageError(`ssh.host-key-policy: expected strict or accept-new, got '${policy}'`);
  const auth: ExtraAuth = { defaultUser: cfg.get('ssh.user') };
  const identity = cfg.get('ssh.identity');
  if (identity) {
    try {
      auth.privateKey = readFileSync(identity);
    } catch (e) {
      throw new UsageError(`ssh.identity: cannot read ${identity} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const pass = cfg.get('ssh.identity-passphrase');
    if (pass) auth.passphrase = resolveSecret(pass, 'ssh.identity-passphrase', f.env);
  }
  const agent = cfg.get('ssh.agent');
  if (agent) {
    auth.agent = agent === 'auto' ? f.env.SSH_AUTH_SOCK : agent;
    if (!auth.agent) throw new UsageError("ssh.agent is 'auto' but SSH_AUTH_SOCK is not set");
  }
  const jumpText = flags.jump ?? cfg.get('ssh.jump');
  let jump: SshEndpoint | undefined;
  if (jumpText) {
    const jp = cfg.get('ssh.jump-password');
    jump = { ...parseJump(jumpText), password: jp ? resolveSecret(jp, 'ssh.jump-password', f.env) : null, privateKey: auth.privateKey, passphrase: auth.passphrase, agent: auth.agent };
  }
  const knownHostsFile = flags.knownHosts ?? cfg.get('ssh.known-hosts')!;
  const hostKeyMode: HostKeyMode = flags.acceptNew ? 'accept-new' : (policy as HostKeyMode);
  const ssh = new SshRunner({
    knownHostsFile,
    hostKeyMode,
    connectTimeoutMs: cfg.durationMs('ssh.connect-timeout')!,
    maxOutputBytes: cfg.int('ssh.max-output')!,
    channelsPerConnection: cfg.int('ssh.channels-per-connection')!,
    jump,
    onHostKeyAccepted: (e) => f.io.warn(`accepted new host key for ${e.host}:${e.port}: ${e.keyType} ${e.fingerprint} (recorded in ${e.file})`),
  });
  f.onClose(() => ssh.close());
  const db = await f.database();
  const repo = new CollectorRepo(db.kysely, db.dialect, `${hostname()}:${process.pid}`);
  return { cfg, ssh, repo, auth };
}

export function contractSetting(value: string | undefined): Contract {
  const c = parseContract(value ?? 'collector');
  if (!c) throw new UsageError(`provision.contract: expected collector or provision-worker, got '${value}'`);
  return c;
}
