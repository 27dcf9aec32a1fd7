// The client factories of the context: each builds a client of core from the configuration, once per
// configuration (a SIGHUP rebuilds it) and closes it with the context. Commands and daemon loops share them.
import type { AppContext } from './context.js';
import type { InventoryHost } from '../core/config/inventory.js';
import type { WinRMClient } from '../core/winrm/client.js';
import type { WinRMOverrides } from '../core/winrm/for-host.js';
import type { CredentialSources } from '../core/config/credentials.js';
import type { CmlClient } from '../core/http-apis/cml-client.js';
import type { ResolvedCmlServer } from '../core/config/cml.js';
import type { ClosableHeartbeatSource } from '../core/heartbeat-sources.js';
import type { Notifier } from '../core/notify.js';
import type { SshRunner } from '../core/ssh/client.js';
import type { ExtraAuth } from '../ops/provisioning/ports.js';
import { sshSettings, type SshFlags } from './settings.js';

/** Connects to an inventory host's WinRM with the configured credentials (flags over inventory over settings). */
export async function winrmConnector(ctx: AppContext, overrides: WinRMOverrides = {}): Promise<(host: InventoryHost) => WinRMClient> {
  const { winrmClientFor } = await import('../core/winrm/for-host.js');
  const sources = await winrmCredentialSources(ctx);
  return (host) => winrmClientFor(host, overrides, sources);
}

/** Where WinRM credentials come from: the inventory, the credentials file, the ops-worker's store, the settings. */
export function winrmCredentialSources(ctx: AppContext): Promise<CredentialSources> {
  return ctx.perConfig('winrm.credentials', async (cfg) => {
    const [{ credentialSources }, { loadWinrmStore }, { resolveSecret }] = await Promise.all([import('../core/winrm/for-host.js'), import('../core/config/winrm-store.js'), import('../core/config/secrets.js')]);
    const path = cfg.value('winrm.store');
    const keyRef = cfg.value('winrm.store-key');
    const store = path ? loadWinrmStore(path, keyRef ? resolveSecret(keyRef, 'winrm.store-key', ctx.env).trim() : undefined) : undefined;
    return { ...credentialSources(cfg, ctx.env), store };
  });
}

/** The heartbeat source the settings (or flags) name: WinRM to each station, or a mounted share; files over heartbeat.max-size are not read. */
export async function heartbeatSource(ctx: AppContext, o: { kind: 'winrm' | 'file'; path: string; timeoutMs: number; maxBytes?: number }): Promise<ClosableHeartbeatSource> {
  const [{ FileHeartbeatSource, checkTemplate }, { WinRMHeartbeatSource }, cfg] = await Promise.all([import('../core/heartbeat-file-source.js'), import('../core/heartbeat-sources.js'), ctx.config()]);
  const maxBytes = o.maxBytes ?? cfg.value('heartbeat.max-size');
  if (o.kind === 'file') {
    checkTemplate(o.path);
    return new FileHeartbeatSource(o.path, maxBytes);
  }
  const connect = await winrmConnector(ctx, { timeoutMs: o.timeoutMs });
  return new WinRMHeartbeatSource(connect, o.timeoutMs, maxBytes);
}

/** The notify hook of the config file, or undefined when it has none. */
export function notifier(ctx: AppContext): Promise<Notifier | undefined> {
  return ctx.perConfig('notifier', async (cfg) => {
    const { createNotifier, parseNotifyConfig } = await import('../core/notify.js');
    const n = parseNotifyConfig(cfg.raw, cfg.file);
    return n ? createNotifier(n, ctx.env) : undefined;
  });
}

/** Makes CML API clients for configured servers. */
export async function cmlConnector(o: { timeoutMs: number; maxSockets: number }): Promise<(server: ResolvedCmlServer) => CmlClient> {
  const { CmlClient } = await import('../core/http-apis/cml-client.js');
  return (server) => new CmlClient({ url: server.url, username: server.username, password: server.passwordValue, ca: server.caPem, insecure: server.insecure, timeoutMs: o.timeoutMs, maxSockets: o.maxSockets });
}

export interface SshSession {
  ssh: SshRunner;
  /** key, agent and default user tried beside the passwords stored in the collector tables */
  auth: ExtraAuth;
}

/**
 * The SSH runner for provisioning and server checks (known_hosts policy, key/agent auth, jump host), shared per
 * configuration and flags; closed with the context or when the configuration changes.
 */
export function sshSession(ctx: AppContext, flags: SshFlags = {}): Promise<SshSession> {
  return ctx.perConfig(
    `ssh:${JSON.stringify(flags)}`,
    async (cfg) => {
      const [{ readFileSync }, { resolveSecret }, { SshRunner }, { UsageError }, { parseJump }] = await Promise.all([
        import('node:fs'),
        import('../core/config/secrets.js'),
        import('../core/ssh/client.js'),
        import('../domain/errors.js'),
        import('../domain/ssh-endpoint.js'),
      ]);
      const s = sshSettings(cfg, flags);
      const auth: ExtraAuth = { defaultUser: s.defaultUser };
      if (s.identity) {
        try {
          auth.privateKey = readFileSync(s.identity);
        } catch (e) {
          throw new UsageError(`ssh.identity: cannot read ${s.identity} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
        }
        if (s.identityPassphrase) auth.passphrase = resolveSecret(s.identityPassphrase, 'ssh.identity-passphrase', ctx.env);
      }
      if (s.agent) {
        auth.agent = s.agent === 'auto' ? ctx.env.SSH_AUTH_SOCK : s.agent;
        if (!auth.agent) throw new UsageError("ssh.agent is 'auto' but SSH_AUTH_SOCK is not set");
      }
      const jump = s.jump
        ? {
            ...parseJump(s.jump),
            password: s.jumpPassword ? resolveSecret(s.jumpPassword, 'ssh.jump-password', ctx.env) : null,
            privateKey: auth.privateKey,
            passphrase: auth.passphrase,
            agent: auth.agent,
          }
        : undefined;
      const ssh = new SshRunner({
        knownHostsFile: s.knownHostsFile,
        hostKeyMode: s.hostKeyMode,
        connectTimeoutMs: s.connectTimeoutMs,
        maxOutputBytes: s.maxOutputBytes,
        channelsPerConnection: s.channelsPerConnection,
        jump,
        onHostKeyAccepted: (e) => ctx.warn(`accepted new host key for ${e.host}:${e.port}: ${e.keyType} ${e.fingerprint} (recorded in ${e.file})`),
      });
      ctx.onClose(() => ssh.close());
      return { ssh, auth };
    },
    (s) => s.ssh.close(),
  );
}
