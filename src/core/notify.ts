// The notification hook: events (CML lab changes now, heartbeat alerts later) go to a command and/or an
// HTTP webhook named in the config's `notify` section. One call per batch, so a first sync of 1000 labs
// is one webhook request, not 1000. Delivery failures are reported, never fatal to the caller.
import { spawn } from 'node:child_process';
import * as z from 'zod'; // a namespace import lets the bundler drop zod's locales
import { parseDuration } from '../domain/duration.js';
import { parseSection } from './config/structured.js';
import { resolveSecret } from './config/secrets.js';
import { childEnv } from './child-env.js';

export interface NotifyConfig {
  /** argv of a command run without a shell; the events arrive on stdin as NDJSON */
  command?: string[];
  /**
   * variables of labops' environment the command receives (it gets PATH, HOME, the locale and LABOPS_NOTIFY_KIND;
   * nothing else of labops' environment, which holds its secrets, unless named here)
   */
  env: string[];
  /** webhook URL, or a secret reference (env:NAME / file:/path), since chat webhook URLs embed a token */
  webhook?: string;
  timeoutMs: number;
}

export interface Notifier {
  /** `kind` says what the events are, e.g. `cml.labs` or `heartbeat.alerts` */
  send(kind: string, events: readonly unknown[]): Promise<void>;
}

const schema = z
  .object({
    command: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    webhook: z.string().min(1).optional(),
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')).optional(),
    timeout: z.string().refine((v) => parseDuration(v) !== undefined, 'expected a duration like 5s').optional(),
  })
  .strict();

/** The `notify` section of the config file, or undefined when there is none. */
export function parseNotifyConfig(raw: Record<string, unknown>, file: string | undefined): NotifyConfig | undefined {
  if (raw.notify === undefined || raw.notify === null) return undefined;
  const n = parseSection(schema, raw.notify, file, 'notify');
  if (!n.command && !n.webhook) return undefined;
  return {
    command: n.command === undefined ? undefined : typeof n.command === 'string' ? [n.command] : n.command,
    webhook: n.webhook,
    env: n.env ?? [],
    timeoutMs: n.timeout ? parseDuration(n.timeout)! : 10_000,
  };
}

function runCommand(cfg: NotifyConfig & { command: string[] }, env: NodeJS.ProcessEnv, kind: string, input: string): Promise<void> {
  const { command: argv, timeoutMs } = cfg;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'], env: childEnv(env, { pass: cfg.env, set: { LABOPS_NOTIFY_KIND: kind } }) });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-500)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`notify command ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`notify command ${argv[0]} ${sig ? `killed (${sig}, timeout ${timeoutMs} ms)` : `exited ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function postWebhook(url: string, body: unknown, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    // The URL may carry a token: name only its origin.
    throw new Error(`notify webhook ${new URL(url).origin}: ${(e as Error).message}`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`notify webhook ${new URL(url).origin}: HTTP ${res.status}`);
}

export function createNotifier(cfg: NotifyConfig, env: NodeJS.ProcessEnv = process.env): Notifier {
  return {
    async send(kind, events) {
      if (!events.length) return;
      const errors: string[] = [];
      const jobs: Promise<void>[] = [];
      if (cfg.command) jobs.push(runCommand({ ...cfg, command: cfg.command }, env, kind, events.map((e) => JSON.stringify(e)).join('\n') + '\n'));
      if (cfg.webhook) {
        const url = resolveSecret(cfg.webhook, 'notify.webhook', env);
        jobs.push(postWebhook(url, { source: 'labops', kind, events }, cfg.timeoutMs));
      }
      for (const r of await Promise.allSettled(jobs)) if (r.status === 'rejected') errors.push((r.reason as Error).message);
      if (errors.length) throw new Error(errors.join('; '));
    },
  };
}
