// The daemon's log: pino, one JSON object per line when the stream is not a terminal (journald, files,
// log shippers), readable `time level [loop] message key=value` lines on a terminal. Secrets never get
// out: known secret values are masked wherever they appear, URL passwords and `password=…`-style pairs
// in messages are masked, and fields named like secrets are censored by pino's redact.
import { pino, type Logger as PinoLogger } from 'pino';

export interface LogSink {
  write(line: string): void;
}

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
  /** mask this value wherever it appears in later log lines */
  addSecret(value: string | undefined): void;
  /** the text with every known secret (and credential-looking value) masked, as a log line would show it */
  scrub(text: string): string;
}

const SECRET_FIELDS = ['password', 'passwd', 'token', 'apiKey', 'api_key', 'secret', 'authorization', 'cookie', 'redisPassword', 'passwordValue'];
const REDACT_PATHS = SECRET_FIELDS.flatMap((k) => [k, `*.${k}`]);

export function scrubText(text: string, secrets: ReadonlySet<string> = new Set()): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s/]+@/gi, '$1***@')
    .replace(/\b(password|passwd|pwd|token|api[_-]?key|secret)(\s*[=:]\s*["']?)[^\s"',;&]+/gi, '$1$2***');
}

function scrubValue(v: unknown, secrets: ReadonlySet<string>, depth = 0): unknown {
  if (typeof v === 'string') return scrubText(v, secrets);
  if (depth > 4 || v === null || typeof v !== 'object') return v;
  if (v instanceof Error) return { type: v.name, message: scrubText(v.message, secrets) };
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, secrets, depth + 1));
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, scrubValue(x, secrets, depth + 1)]));
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** A terminal sink: turns pino's JSON line back into a short readable line. */
function readableSink(out: LogSink, color: boolean): LogSink {
  const paint = (level: number, s: string) => (!color ? s : level >= 50 ? `\x1b[31m${s}\x1b[0m` : level >= 40 ? `\x1b[33m${s}\x1b[0m` : level <= 20 ? `\x1b[2m${s}\x1b[0m` : s);
  return {
    write(line: string) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { level, time, msg, loop, pid: _p, hostname: _h, instance: _i, ...rest } = o as { level: number; time: number; msg: string; loop?: string; pid?: number; hostname?: string; instance?: string };
      const t = new Date(time).toISOString().slice(11, 23);
      const extra = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${t} ${paint(level, LEVEL_NAMES[level] ?? String(level))} ${loop ? `[${loop}] ` : ''}${msg}${extra ? `  ${extra}` : ''}\n`);
    },
  };
}

export interface LoggerOptions {
  /** where lines go (stderr by default) */
  sink: LogSink;
  /** readable lines instead of JSON */
  tty: boolean;
  color?: boolean;
  level?: 'debug' | 'info' | 'warn' | 'error';
  base?: Record<string, unknown>;
}

export function createLogger(o: LoggerOptions): Logger {
  const secrets = new Set<string>();
  const dest = o.tty ? readableSink(o.sink, Boolean(o.color)) : o.sink;
  const root = pino(
    {
      level: o.level ?? 'info',
      base: o.base ?? {},
      timestamp: o.tty ? pino.stdTimeFunctions.epochTime : pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label, number) => (o.tty ? { level: number } : { level: label }) },
    },
    { write: (s: string) => dest.write(s) },
  );
  const wrap = (p: PinoLogger, bound: Record<string, unknown> = {}): Logger => {
    const emit = (lvl: 'info' | 'warn' | 'error' | 'debug', msg: string, fields?: Record<string, unknown>) => {
      if (!p.isLevelEnabled(lvl)) return;
      const text = scrubText(msg, secrets).replace(/\r?\n/g, ' ');
      // pino writes a field again when a child binding has the same key: a JSON line must not hold a key twice
      const own = fields && Object.fromEntries(Object.entries(fields).filter(([k, v]) => !(k in bound) || bound[k] !== v));
      if (own && Object.keys(own).length) p[lvl](scrubValue(own, secrets) as Record<string, unknown>, text);
      else p[lvl](text);
    };
    return {
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      debug: (m, f) => emit('debug', m, f),
      child: (b) => wrap(p.child(scrubValue(b, secrets) as Record<string, unknown>), { ...bound, ...b }),
      addSecret: (v) => {
        if (v && v.length >= 4) secrets.add(v);
      },
      scrub: (text) => scrubText(text, secrets),
    };
  };
  return wrap(root);
}
