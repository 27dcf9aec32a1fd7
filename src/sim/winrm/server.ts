// Simulated WinRM service of one Lab Station: HTTP with NTLM + message encryption, HTTPS with Basic and NTLM.
// Refuses wrong credentials (401), Basic on HTTP, and unencrypted SOAP on HTTP, as a default Windows host does.
// Implements the WS-Man cmd shell (Create/Command/Receive/Signal/Delete) and hands commands to a CommandHandler.
import { X509Certificate, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { NtlmAcceptor } from '../../core/ntlm/acceptor.js';
import type { SessionSecurity } from '../../core/ntlm/session.js';
import { tlsServerEndPoint } from '../../core/winrm/cbt.js';
import { ENCRYPTED_CONTENT_TYPE, frameEncrypted, isEncryptedContentType, unframeEncrypted } from '../../core/winrm/encryption.js';
import { decodePowerShell } from '../../core/winrm/powershell.js';
import { ACTION, FAULT, NS, type XNode, attr, children, findAll, first, parseSoap, path, text, xmlEscape } from '../../core/winrm/soap.js';
import { negotiateToken } from '../../core/winrm/transport.js';
import { commandLineToArgv, splitCmdOperators, stripCaret } from './cmdline.js';
import { type CommandHandler, type CommandRequest, type CommandResult, parseExecWrapper, parseGetContent, parseReadFiles } from './handler.js';
import { parseFileScript, type FileOp } from './file-scripts.js';

export interface WinRMServerOptions {
  address: string;
  /** 0 = pick a free port; undefined = do not serve */
  httpPort?: number;
  httpsPort?: number;
  tls?: { cert: Buffer; key: Buffer };
  /** user name (case-insensitive) -> password */
  users: Record<string, string>;
  handler: CommandHandler;
  computerName?: string;
  /** test hook: rewrite a reply body before it is sent (e.g. malformed SOAP) */
  tamper?: (action: string, xml: string) => string;
  /** upper bound for a Receive wait, whatever the client's OperationTimeout says */
  maxOperationTimeoutMs?: number;
}

export interface ShellEvent {
  action: 'Create' | 'Command' | 'Receive' | 'Signal' | 'Delete';
  shellId?: string;
  commandId?: string;
}

interface RunningCommand {
  id: string;
  done: Promise<CommandResult>;
  result?: CommandResult;
  abort: AbortController;
  delivered: boolean;
}
interface Shell {
  id: string;
  codepage: number;
  commands: Map<string, RunningCommand>;
}
interface ConnState {
  acceptor?: NtlmAcceptor;
  user?: string;
  session?: SessionSecurity;
}

const CMD_MAX = 8191;

export class SimWinRMServer {
  private http?: http.Server;
  private https?: https.Server;
  private readonly conns = new WeakMap<Socket, ConnState>();
  private readonly shells = new Map<string, Shell>();
  private readonly sockets = new Set<Socket>();
  private cbtData?: Buffer;
  /** every WS-Man operation, in order */
  readonly events: ShellEvent[] = [];
  /** every command as the station received it (argv for quoting tests) */
  readonly received: CommandRequest[] = [];
  httpPort = 0;
  httpsPort = 0;

  constructor(private readonly opts: WinRMServerOptions) {
    if (opts.tls) this.cbtData = tlsServerEndPoint(Buffer.from(new X509Certificate(opts.tls.cert).raw));
  }

  get openShells(): number {
    return this.shells.size;
  }

  async start(): Promise<void> {
    const listen = (srv: http.Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, this.opts.address, () => resolve((srv.address() as AddressInfo).port));
      });
    const track = (srv: http.Server) => {
      srv.keepAliveTimeout = 120_000;
      srv.headersTimeout = 130_000;
      srv.requestTimeout = 0;
      srv.on('connection', (s: Socket) => {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      });
    };
    if (this.opts.httpPort !== undefined) {
      this.http = http.createServer((req, res) => void this.handle(req, res, false));
      track(this.http);
      this.httpPort = await listen(this.http, this.opts.httpPort);
      // a port picked by the OS is kept across restarts (a rebooted station keeps its port)
      this.opts.httpPort = this.httpPort;
    }
    if (this.opts.httpsPort !== undefined) {
      if (!this.opts.tls) throw new Error('HTTPS needs a certificate');
      this.https = https.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, (req, res) => void this.handle(req, res, true));
      track(this.https);
      this.httpsPort = await listen(this.https, this.opts.httpsPort);
      this.opts.httpsPort = this.httpsPort;
    }
  }

  /**
   * A station going down stays on the network for `graceMs` more before it stops: a real shutdown takes seconds,
   * and under a time scale the simulated one can be shorter than the exchange that asked for it. (Closing the
   * listener early is no gentler: Node closes idle keep-alive connections with it.)
   */
  async drain(graceMs: number): Promise<void> {
    await new Promise((r) => setTimeout(r, graceMs));
    await this.stop();
  }

  async stop(): Promise<void> {
    for (const sh of this.shells.values()) for (const c of sh.commands.values()) c.abort.abort();
    this.shells.clear();
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.http, this.https].filter((s) => s !== undefined).map((s) => new Promise<void>((r) => s!.close(() => r()))));
  }

  private checkPassword(user: string, password: string): boolean {
    const entry = Object.entries(this.opts.users).find(([u]) => u.toLowerCase() === user.toLowerCase());
    return entry !== undefined && entry[1] === password;
  }

  private lookupPassword = (user: string): string | undefined => Object.entries(this.opts.users).find(([u]) => u.toLowerCase() === user.toLowerCase())?.[1];

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const socket = req.socket;
    let conn = this.conns.get(socket);
    if (!conn) this.conns.set(socket, (conn = {}));
    const challengeHeaders = secure ? ['Negotiate', 'Basic realm="WSMAN"'] : ['Negotiate'];
    const deny = () => {
      res.writeHead(401, { 'WWW-Authenticate': challengeHeaders, 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' });
      res.end();
    };
    try {
      const authz = req.headers.authorization ?? '';
      let user = conn.user;
      if (/^Basic /i.test(authz)) {
        if (!secure) return deny();
        const [u, ...rest] = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8').split(':');
        if (!u || !this.checkPassword(u, rest.join(':'))) return deny();
        user = u;
        // Basic authenticates the request only
        return await this.serveSoap(body, res, secure, undefined, user);
      }
      if (/^(Negotiate|NTLM) /i.test(authz)) {
        const token = negotiateToken(authz);
        if (!token) return deny();
        const type = token.length >= 12 ? token.readUInt32LE(8) : 0;
        if (type === 1) {
          conn.acceptor = new NtlmAcceptor({ computerName: this.opts.computerName ?? 'LABSTATION', lookupPassword: this.lookupPassword, channelBindingData: secure ? this.cbtData : undefined });
          conn.user = undefined;
          conn.session = undefined;
          const challenge = conn.acceptor.challenge(token);
          res.writeHead(401, { 'WWW-Authenticate': `Negotiate ${challenge.toString('base64')}`, 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' });
          res.end();
          return;
        }
        if (type === 3 && conn.acceptor) {
          let accepted;
          try {
            accepted = conn.acceptor.accept(token);
          } catch {
            conn.acceptor = undefined;
            return deny();
          }
          conn.acceptor = undefined;
          if (!secure && !accepted.session) return deny();
          conn.user = accepted.user;
          conn.session = accepted.session;
          if (body.length === 0) {
            res.writeHead(200, { 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' });
            res.end();
            return;
          }
          user = conn.user;
        } else {
          return deny();
        }
      }
      if (!user) return deny();
      const encrypted = isEncryptedContentType(req.headers['content-type']);
      if (!secure && !encrypted) return deny(); // AllowUnencrypted=false
      if (encrypted) {
        if (!conn.session) return deny();
        let plain: Buffer;
        try {
          plain = unframeEncrypted(body, conn.session);
        } catch {
          res.writeHead(400, { 'Content-Length': '0' });
          res.end();
          return;
        }
        return await this.serveSoap(plain, res, secure, conn.session, user);
      }
      return await this.serveSoap(body, res, secure, undefined, user);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Length': '0' });
      res.end();
      void e;
    }
  }

  private async serveSoap(body: Buffer, res: http.ServerResponse, _secure: boolean, session: SessionSecurity | undefined, user: string): Promise<void> {
    const { status, xml, action } = await this.dispatch(body.toString('utf8'), user);
    const out = Buffer.from(this.opts.tamper ? this.opts.tamper(action, xml) : xml, 'utf8');
    if (session) {
      const framed = frameEncrypted(out, session);
      res.writeHead(status, { 'Content-Type': ENCRYPTED_CONTENT_TYPE, 'Content-Length': String(framed.length), Server: 'Microsoft-HTTPAPI/2.0' });
      res.end(framed);
    } else {
      res.writeHead(status, { 'Content-Type': 'application/soap+xml;charset=UTF-8', 'Content-Length': String(out.length), Server: 'Microsoft-HTTPAPI/2.0' });
      res.end(out);
    }
  }

  private async dispatch(xml: string, user: string): Promise<{ status: number; xml: string; action: string }> {
    let doc: XNode;
    try {
      doc = parseSoap(xml);
    } catch {
      return { status: 500, xml: fault('', 's:Sender', 'w:SchemaValidationError', 'The SOAP XML in the message does not match the corresponding XML schema definition.', 2150858817), action: 'invalid' };
    }
    const header = path(doc, 'Envelope', 'Header');
    const actionUri = text(first(header, 'Action'));
    const messageId = text(first(header, 'MessageID'));
    const shellId = findAll(first(header, 'SelectorSet'), 'Selector').find((s) => attr(s, 'Name') === 'ShellId');
    const options = new Map(findAll(first(header, 'OptionSet'), 'Option').map((o) => [attr(o, 'Name') ?? '', text(o)]));
    const opTimeoutMs = parseDuration(text(first(header, 'OperationTimeout'))) ?? 60_000;
    const bodyNode = path(doc, 'Envelope', 'Body');
    const shell = shellId ? this.shells.get(text(shellId)) : undefined;
    const noShell = () => ({ status: 500, xml: fault(messageId, 's:Sender', 'w:InvalidSelectors', 'The request for the Windows Remote Shell with ShellId failed because the shell was not found on the server.', FAULT.shellNotFound), action: actionUri });

    switch (actionUri) {
      case ACTION.create: {
        const id = randomUUID().toUpperCase();
        this.shells.set(id, { id, codepage: Number(options.get('WINRS_CODEPAGE') ?? 437) || 437, commands: new Map() });
        this.events.push({ action: 'Create', shellId: id });
        const b =
          `<x:ResourceCreated><a:Address>http://${this.opts.address}:5985/wsman</a:Address><a:ReferenceParameters>` +
          `<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>` +
          `<w:SelectorSet><w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>` +
          `<rsp:Shell><rsp:ShellId>${id}</rsp:ShellId><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`;
        return { status: 200, xml: reply(messageId, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse', b), action: 'Create' };
      }
      case ACTION.command: {
        if (!shell) return noShell();
        const line = first(bodyNode, 'CommandLine');
        const command = text(first(line, 'Command'));
        const args = children(line, 'Arguments').map(text).join(' ');
        const commandLine = args ? `${command} ${args}` : command;
        const id = randomUUID().toUpperCase();
        const abort = new AbortController();
        const rc: RunningCommand = { id, abort, delivered: false, done: this.execute(commandLine, shell, user, abort.signal) };
        void rc.done.then((r) => (rc.result = r));
        shell.commands.set(id, rc);
        this.events.push({ action: 'Command', shellId: shell.id, commandId: id });
        return { status: 200, xml: reply(messageId, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse', `<rsp:CommandResponse><rsp:CommandId>${id}</rsp:CommandId></rsp:CommandResponse>`), action: 'Command' };
      }
      case ACTION.receive: {
        if (!shell) return noShell();
        const desired = first(first(bodyNode, 'Receive'), 'DesiredStream');
        const cmdId = attr(desired, 'CommandId') ?? '';
        const rc = shell.commands.get(cmdId);
        this.events.push({ action: 'Receive', shellId: shell.id, commandId: cmdId });
        if (!rc) return noShell();
        const wait = Math.min(opTimeoutMs, this.opts.maxOperationTimeoutMs ?? 60_000);
        const result = rc.result ?? (await Promise.race([rc.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), wait).unref())]));
        if (!result) {
          return {
            status: 500,
            xml: fault(messageId, 's:Receiver', 'w:TimedOut', 'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ', FAULT.operationTimeout),
            action: 'Receive',
          };
        }
        rc.delivered = true;
        const streams = [...streamElements('stdout', cmdId, result.stdout), ...streamElements('stderr', cmdId, result.stderr)].join('');
        const b =
          `<rsp:ReceiveResponse>${streams}<rsp:CommandState CommandId="${cmdId}" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done">` +
          `<rsp:ExitCode>${result.exitCode}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`;
        return { status: 200, xml: reply(messageId, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse', b), action: 'Receive' };
      }
      case ACTION.signal: {
        if (!shell) return noShell();
        const cmdId = attr(first(bodyNode, 'Signal'), 'CommandId') ?? '';
        shell.commands.get(cmdId)?.abort.abort();
        shell.commands.delete(cmdId);
        this.events.push({ action: 'Signal', shellId: shell.id, commandId: cmdId });
        return { status: 200, xml: reply(messageId, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse', '<rsp:SignalResponse/>'), action: 'Signal' };
      }
      case ACTION.delete: {
        if (!shell) return noShell();
        for (const c of shell.commands.values()) c.abort.abort();
        this.shells.delete(shell.id);
        this.events.push({ action: 'Delete', shellId: shell.id });
        return { status: 200, xml: reply(messageId, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse', ''), action: 'Delete' };
      }
      default:
        return { status: 500, xml: fault(messageId, 's:Sender', 'a:ActionNotSupported', `The action ${actionUri} is not supported by the service.`, 2150858899), action: actionUri };
    }
  }

  /** Turns a WinRS command line into what the station runs, the way cmd.exe + powershell.exe would. */
  private async execute(commandLine: string, shell: Shell, user: string, signal: AbortSignal): Promise<CommandResult> {
    if (commandLine.length > CMD_MAX) return { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('The command line is too long.\r\n') };
    const { first: head, rest } = splitCmdOperators(commandLine);
    const argv = commandLineToArgv(stripCaret(head));
    const exe = argv[0] ?? '';
    const base = exe.split(/[\\/]/).pop()!.toLowerCase();
    let req: CommandRequest;
    if (base === 'powershell' || base === 'powershell.exe') {
      const i = argv.findIndex((a) => /^[-/]e(c|nc|ncodedcommand|ncodedcomman|ncodedcomma|ncodedcomm|ncodedcom|ncodedco|ncodedc|ncoded|ncode|ncod|nco)?$/i.test(a));
      const script = i >= 0 && argv[i + 1] ? decodePowerShell(argv[i + 1]!) : '';
      const wrapper = parseExecWrapper(script);
      if (wrapper) {
        req = { commandLine, command: wrapper.exe, args: wrapper.args, via: 'powershell-wrapper', powershell: script, user };
      } else {
        const readPaths = parseReadFiles(script);
        const textPath = readPaths ? undefined : parseGetContent(script);
        if (readPaths || textPath !== undefined) this.received.push({ commandLine, command: 'powershell', args: [], via: 'powershell', powershell: script, user });
        if (readPaths) {
          const lines = await Promise.all(
            readPaths.map(async (p) => {
              try {
                const data = await this.opts.handler.readFile?.(p);
                return data ? `+${data.toString('base64')}` : '-';
              } catch (e) {
                return `!${Buffer.from((e as Error).message).toString('base64')}`;
              }
            }),
          );
          return { exitCode: 0, stdout: Buffer.from(lines.map((l) => `${l}\n`).join('')), stderr: Buffer.alloc(0) };
        }
        const fileOps = readPaths || textPath !== undefined ? undefined : parseFileScript(script);
        if (fileOps) return this.runFileOps({ commandLine, command: 'powershell', args: [], via: 'powershell', powershell: script, user }, fileOps);
        if (textPath !== undefined) {
          const data = await this.opts.handler.readFile?.(textPath);
          if (!data) return { exitCode: 1, stdout: Buffer.alloc(0), stderr: clixmlError(`Could not find file '${textPath}'.`) };
          const textValue = stripBom(data).toString('utf8') + '\r\n';
          return { exitCode: 0, stdout: encodeForCodepage(textValue, shell.codepage), stderr: Buffer.alloc(0) };
        }
        req = { commandLine, command: 'powershell', args: argv.slice(1), via: 'powershell', powershell: script, user };
      }
    } else {
      req = { commandLine, command: exe, args: argv.slice(1), via: 'cmd', user, ...(rest ? { injected: rest } : {}) };
    }
    this.received.push(req);
    let result: CommandResult;
    try {
      result = await this.opts.handler.run(req, { signal });
    } catch (e) {
      result = { exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from(`${(e as Error).message}\r\n`) };
    }
    if (rest) {
      const next = commandLineToArgv(rest)[0] ?? rest;
      return { exitCode: 9009, stdout: result.stdout, stderr: Buffer.concat([result.stderr, Buffer.from(`'${next}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n`)]) };
    }
    if (shell.codepage !== 65001 && req.via !== 'cmd') return { ...result, stdout: encodeForCodepage(result.stdout.toString('utf8'), shell.codepage) };
    return result;
  }

  /** Set-Content writes UTF-8 with a BOM and a CRLF after the value (Windows PowerShell 5.1); stops at the first failure. */
  private async runFileOps(req: CommandRequest, ops: FileOp[]): Promise<CommandResult> {
    this.received.push(req);
    for (const op of ops) {
      const ok =
        op.op === 'write'
          ? await this.opts.handler.writeFile?.(op.path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${op.value}\r\n`, 'utf8')]))
          : await this.opts.handler.deleteFile?.(op.path).then(() => true);
      if (!ok) return { exitCode: 1, stdout: Buffer.alloc(0), stderr: clixmlError(`Could not find a part of the path '${op.path}'.`) };
    }
    return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  }
}

function parseDuration(s: string): number | undefined {
  const m = /^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(s.trim());
  if (!m || (!m[1] && !m[2])) return undefined;
  return Math.round((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000);
}

function stripBom(b: Buffer): Buffer {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
}

/** PowerShell writes text to a pipe in the shell's code page: non-ASCII survives only under 65001. */
function encodeForCodepage(s: string, codepage: number): Buffer {
  return codepage === 65001 ? Buffer.from(s, 'utf8') : Buffer.from([...s].map((c) => (c.charCodeAt(0) < 0x80 ? c : '?')).join(""), 'latin1');
}

function clixmlError(message: string): Buffer {
  const esc = xmlEscape(message).replace(/\r?\n/g, '_x000D__x000A_');
  return Buffer.from(
    `#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">${esc}_x000D__x000A_</S></Objs>`,
  );
}

const CHUNK = 48 * 1024;
function streamElements(name: string, cmdId: string, data: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i < data.length; i += CHUNK) out.push(`<rsp:Stream Name="${name}" CommandId="${cmdId}">${data.subarray(i, i + CHUNK).toString('base64')}</rsp:Stream>`);
  out.push(`<rsp:Stream Name="${name}" CommandId="${cmdId}" End="true"></rsp:Stream>`);
  return out;
}

function headerXml(relatesTo: string, action: string): string {
  return (
    `<s:Header><a:To>${'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'}</a:To>` +
    `<a:Action s:mustUnderstand="true">${action}</a:Action><a:MessageID>uuid:${randomUUID().toUpperCase()}</a:MessageID>` +
    (relatesTo ? `<a:RelatesTo>${xmlEscape(relatesTo)}</a:RelatesTo>` : '') +
    `</s:Header>`
  );
}

function reply(relatesTo: string, action: string, bodyXml: string): string {
  return (
    `<s:Envelope xml:lang="en-US" xmlns:s="${NS.env}" xmlns:a="${NS.a}" xmlns:x="${NS.x}" xmlns:w="${NS.w}" xmlns:rsp="${NS.rsp}" xmlns:p="${NS.p}">` +
    headerXml(relatesTo, action) +
    `<s:Body>${bodyXml}</s:Body></s:Envelope>`
  );
}

function fault(relatesTo: string, code: string, subcode: string, reason: string, wsmanCode: number): string {
  return (
    `<s:Envelope xml:lang="en-US" xmlns:s="${NS.env}" xmlns:a="${NS.a}" xmlns:x="${NS.x}" xmlns:w="${NS.w}" xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing" xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:p="${NS.p}">` +
    headerXml(relatesTo, 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault') +
    `<s:Body><s:Fault><s:Code><s:Value>${code}</s:Value><s:Subcode><s:Value>${subcode}</s:Value></s:Subcode></s:Code>` +
    `<s:Reason><s:Text xml:lang="en-US">${xmlEscape(reason)}</s:Text></s:Reason>` +
    `<s:Detail><f:WSManFault xmlns:f="${NS.f}" Code="${wsmanCode}" Machine="localhost"><f:Message>${xmlEscape(reason)}</f:Message></f:WSManFault></s:Detail>` +
    `</s:Fault></s:Body></s:Envelope>`
  );
}
