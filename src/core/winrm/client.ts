// WinRM client: one WS-Management cmd shell per command (codepage 65001), receive loop with OperationTimeout retry
// bounded by the caller's deadline, and Signal + Delete always (error, timeout and abort included).
import { readFileSync } from 'node:fs';
import { Interrupted, OperationFailed, Unreachable, UsageError } from '../../domain/errors.js';
import { winrsCommandLine } from '../../domain/winrs-command-line.js';
import { clixmlToText } from './clixml.js';
import { CMD_MAX, parseReadFilesOutput, powershellArgs, READ_FILES_MAX, readFilesScript, type ReadFileOutcome } from './powershell.js';
import {
  ACTION,
  FAULT,
  SoapFormatError,
  commandBody,
  createShellBody,
  envelope,
  findCommandId,
  findShellId,
  parseFault,
  parseReceive,
  parseSoap,
  receiveBody,
  relatesTo,
  signalBody,
  type SoapFault,
  type XNode,
} from './soap.js';
import { type AuthMethod, type WinRMTransport, acquireTransport, releaseTransport } from './transport.js';

export interface WinRMClientOptions {
  host: string;
  /** default 5986 with ssl, 5985 without */
  port?: number;
  ssl?: boolean;
  transport: AuthMethod;
  user: string;
  password: string;
  /** PEM CA bundle (contents) */
  ca?: string | Buffer;
  /** path to a PEM CA bundle */
  caFile?: string;
  insecure?: boolean;
  /** default overall budget per call when the caller gives none (ms); default 60 s */
  timeoutMs?: number;
  /** WS-Man OperationTimeout for Receive (ms); default 20 s, shortened to fit the deadline */
  operationTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** budget for Signal + Delete after a failure or timeout (ms); default 5 s */
  cleanupTimeoutMs?: number;
  now?: () => number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** overall budget for this call in ms, from now */
  deadlineMs?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** raw stdout bytes (before UTF-8 decoding) */
  stdoutBytes: Buffer;
  durationMs: number;
}

export class WinRMFault extends OperationFailed {
  constructor(
    readonly fault: SoapFault,
    where: string,
  ) {
    super(`WinRM fault from ${where}: ${fault.reason}${fault.wsmanCode !== undefined ? ` (code 0x${fault.wsmanCode.toString(16).toUpperCase()})` : ''}`, {
      context: { code: fault.code, subcode: fault.subcode, wsmanCode: fault.wsmanCode, wmiCode: fault.wmiCode },
    });
  }
}

const NOT_FOUND_OK = new Set<number>([FAULT.shellNotFound]);

export class WinRMClient {
  private readonly transport: WinRMTransport;
  private readonly now: () => number;
  private readonly host: string;
  private closed = false;

  constructor(private readonly opts: WinRMClientOptions) {
    const ssl = opts.ssl ?? false;
    const ca = opts.ca ?? (opts.caFile ? readCa(opts.caFile) : undefined);
    this.transport = acquireTransport({
      host: opts.host,
      port: opts.port ?? (ssl ? 5986 : 5985),
      ssl,
      auth: opts.transport,
      user: opts.user,
      password: opts.password,
      ca,
      insecure: opts.insecure,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
    });
    this.now = opts.now ?? Date.now;
    this.host = this.transport.where;
  }

  get endpoint(): string {
    return this.transport.endpoint;
  }

  /** Ends this client; its authenticated connection may serve the next client of the same host and credentials. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    releaseTransport(this.transport);
  }

  /**
   * Runs `exe args...` through the WinRS cmd shell (no PowerShell start-up): each argument arrives exactly as given,
   * or the call is refused with UnpassableArgument (a UsageError) before anything is sent.
   */
  runCommand(exe: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    let line;
    try {
      line = winrsCommandLine(exe, args);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.runCmd(line.command, line.arguments, opts);
  }

  /** Runs a script with powershell.exe -EncodedCommand; CLIXML in stderr becomes plain text. */
  async runPowerShell(script: string, opts: RunOptions = {}): Promise<RunResult> {
    const args = powershellArgs(script);
    if ('powershell.exe '.length + args.length > CMD_MAX) {
      throw new UsageError(`PowerShell script too long for the Windows command line (${script.length} characters; at most about 3000)`);
    }
    const r = await this.runCmd('powershell.exe', args, opts);
    return { ...r, stderr: clixmlToText(r.stderr) };
  }

  /** Reads a remote file's bytes (base64 over stdout, so no code page can alter them). */
  async readFileBytes(path: string, opts: RunOptions = {}): Promise<Buffer> {
    const [r] = await this.readFiles([path], opts);
    if ('bytes' in r!) return r.bytes;
    throw new OperationFailed(`reading ${path} on ${this.host} failed: ${'missing' in r! ? `Could not find file '${path}'.` : 'tooLarge' in r! ? `${r.tooLarge} bytes, more than ${READ_FILES_MAX}` : r!.error}`);
  }

  /** Reads several remote files in one command; each outcome is the bytes, missing, too large (over `maxBytes`), or that file's error. */
  async readFiles(paths: readonly string[], opts: RunOptions & { maxBytes?: number } = {}): Promise<ReadFileOutcome[]> {
    const r = await this.runPowerShell(readFilesScript(paths, opts.maxBytes), opts);
    const parsed = r.exitCode === 0 ? parseReadFilesOutput(r.stdout, paths.length) : undefined;
    if (parsed) return parsed;
    const what = paths.length === 1 ? paths[0] : `${paths.length} files`;
    if (r.exitCode !== 0) throw new OperationFailed(`reading ${what} on ${this.host} failed (exit ${r.exitCode})${r.stderr.trim() ? `: ${firstLine(r.stderr)}` : ''}`);
    throw new OperationFailed(`reading ${what} on ${this.host}: the reply was not the expected base64 lines`);
  }

  /** Low level: a command line through the cmd shell (command + arguments text, as WinRS takes them). */
  async runCmd(command: string, args: string, opts: RunOptions = {}): Promise<RunResult> {
    const started = this.now();
    const budget = opts.deadlineMs ?? this.opts.timeoutMs ?? 60_000;
    const deadline = started + budget;
    const signal = opts.signal;
    if (signal?.aborted) throw new Interrupted();
    const remaining = () => deadline - this.now();
    const timeoutError = () => new Unreachable(`command on ${this.host} did not finish within ${fmtSeconds(budget)}; the remote shell was closed`);
    const call = async (action: string, bodyXml: string, extra: { shellId?: string; options?: Array<[string, string]>; opTimeoutMs?: number } = {}) => {
      const left = remaining();
      if (left <= 0) throw timeoutError();
      const opTimeoutMs = Math.max(500, Math.min(extra.opTimeoutMs ?? 20_000, left));
      return this.send(action, bodyXml, { ...extra, opTimeoutMs, httpTimeoutMs: Math.min(opTimeoutMs + 10_000, left + 1_000), signal });
    };

    let shellId: string | undefined;
    let commandId: string | undefined;
    try {
      const created = await call(ACTION.create, createShellBody(), {
        options: [
          ['WINRS_NOPROFILE', 'FALSE'],
          ['WINRS_CODEPAGE', '65001'],
        ],
      });
      shellId = findShellId(created);
      if (!shellId) throw new OperationFailed(`malformed SOAP from ${this.host}: the Create reply has no ShellId`);
      const cmd = await call(ACTION.command, commandBody(command, args), {
        shellId,
        options: [
          ['WINRS_CONSOLEMODE_STDIN', 'TRUE'],
          ['WINRS_SKIP_CMD_SHELL', 'FALSE'],
        ],
      });
      commandId = findCommandId(cmd);
      if (!commandId) throw new OperationFailed(`malformed SOAP from ${this.host}: the Command reply has no CommandId`);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      for (;;) {
        let doc: XNode;
        try {
          doc = await call(ACTION.receive, receiveBody(commandId), { shellId, opTimeoutMs: this.opts.operationTimeoutMs ?? 20_000 });
        } catch (e) {
          // OperationTimeout only means "no output yet"; ask again until our own deadline
          if (e instanceof WinRMFault && e.fault.wsmanCode === FAULT.operationTimeout) {
            if (remaining() <= 0) throw timeoutError();
            continue;
          }
          throw e;
        }
        let chunk;
        try {
          chunk = parseReceive(doc);
        } catch (e) {
          throw new OperationFailed(`malformed SOAP from ${this.host}: ${(e as Error).message}`);
        }
        stdout.push(...chunk.stdout);
        stderr.push(...chunk.stderr);
        if (chunk.done) {
          const stdoutBytes = Buffer.concat(stdout);
          return {
            exitCode: chunk.exitCode ?? -1,
            stdout: stdoutBytes.toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
            stdoutBytes,
            durationMs: this.now() - started,
          };
        }
      }
    } catch (e) {
      // an HTTP timeout that ran into the caller's deadline is the deadline, not a network problem
      if (e instanceof Unreachable && remaining() <= 0 && !/did not finish/.test(e.message)) throw timeoutError();
      throw e;
    } finally {
      if (shellId) await this.cleanup(shellId, commandId);
    }
  }

  private async cleanup(shellId: string, commandId: string | undefined): Promise<void> {
    const budget = this.opts.cleanupTimeoutMs ?? 5_000;
    const opts = { opTimeoutMs: Math.min(budget, 20_000), httpTimeoutMs: budget, shellId };
    if (commandId) {
      await this.send(ACTION.signal, signalBody(commandId), opts).catch(() => undefined);
    }
    await this.send(ACTION.delete, '', opts).catch((e: unknown) => {
      if (e instanceof WinRMFault && e.fault.wsmanCode !== undefined && NOT_FOUND_OK.has(e.fault.wsmanCode)) return;
      return undefined;
    });
  }

  private async send(
    action: string,
    bodyXml: string,
    o: { shellId?: string; options?: Array<[string, string]>; opTimeoutMs: number; httpTimeoutMs: number; signal?: AbortSignal },
  ): Promise<XNode> {
    const { xml, messageId } = envelope({ to: this.transport.endpoint, action, shellId: o.shellId, options: o.options, operationTimeoutMs: o.opTimeoutMs }, bodyXml);
    const reply = await this.transport.post(xml, { timeoutMs: o.httpTimeoutMs, signal: o.signal });
    let doc: XNode;
    try {
      doc = parseSoap(reply.body);
    } catch (e) {
      const what = e instanceof SoapFormatError ? e.message : String(e);
      throw new OperationFailed(`malformed SOAP from ${this.host} (HTTP ${reply.status}): ${what}`);
    }
    const fault = parseFault(doc);
    if (fault) throw new WinRMFault(fault, this.host);
    if (reply.status !== 200) throw new OperationFailed(`WinRM on ${this.host} answered HTTP ${reply.status} without a SOAP fault`);
    const rel = relatesTo(doc);
    if (rel && rel.toLowerCase() !== messageId.toLowerCase()) throw new OperationFailed(`malformed SOAP from ${this.host}: reply relates to ${rel}, not to ${messageId}`);
    return doc;
  }
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read CA file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function firstLine(s: string): string {
  return s.trim().split(/\r?\n/)[0] ?? '';
}

function fmtSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}


