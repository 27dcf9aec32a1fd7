// Simulated WinRM service of one Lab Station: HTTP with NTLM + message encryption, HTTPS with Basic and NTLM.
// Refuses wrong credentials (401), Basic on HTTP, and unencrypted SOAP on HTTP, as a default Windows host does.
// Implements the WS-Man cmd shell (Create/Command/Receive/Signal/Delete); each command line runs as Windows runs it
// (windows.ts: cmd.exe /c, then the program it starts), with LabStation.exe behind a CommandHandler.
import { X509Certificate, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { NtlmAcceptor } from '../../core/ntlm/acceptor.js';
import type { SessionSecurity } from '../../core/ntlm/session.js';
import { tlsServerEndPoint } from '../../core/winrm/cbt.js';
import { ENCRYPTED_CONTENT_TYPE, frameEncrypted, isEncryptedContentType, unframeEncrypted } from '../../core/winrm/encryption.js';
import { ACTION, FAULT, NS, RESOURCE_CMD, type XNode, attr, children, findAll, first, parseSoap, path, text, xmlEscape } from '../../core/winrm/soap.js';
import { negotiateToken } from '../../core/winrm/transport.js';
import { winrsJoin } from './cmdline.js';
import type { CommandHandler, CommandRequest, CommandResult } from './handler.js';
import { SimWindows } from './windows.js';
import { HungResponses, applyHttpFault, sleep, truncated, type FaultPlan } from '../faults.js';

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
  /** station faults and latency (station.winrm); `host` is this station's name for host= rules */
  faults?: FaultPlan;
  host?: string;
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

/** The fault a Windows host answers a Create for a shell whose plugin is not registered (pywinrm #273, about_Remote_Troubleshooting). */
const INVALID_RESOURCE_URI = 2150858811;

export class SimWinRMServer {
  private http?: http.Server;
  private https?: https.Server;
  private readonly conns = new WeakMap<Socket, ConnState>();
  private readonly shells = new Map<string, Shell>();
  private readonly sockets = new Set<Socket>();
  private readonly hung = new HungResponses();
  private cbtData?: Buffer;
  /** every WS-Man operation, in order */
  readonly events: ShellEvent[] = [];
  /** every program a command started, as the station received it (argv for quoting tests) */
  readonly received: CommandRequest[] = [];
  /** NTLM handshakes completed (a reused connection needs none) */
  ntlmLogons = 0;
  httpPort = 0;
  httpsPort = 0;

  private readonly windows: SimWindows;

  constructor(private readonly opts: WinRMServerOptions) {
    this.windows = new SimWindows({ handler: opts.handler, computerName: opts.computerName ?? 'LABSTATION', record: (r) => this.received.push(r) });
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

  /** The accounts the station accepts (a changed password: the `wrong-credentials` station fault). */
  setUsers(users: Record<string, string>): void {
    this.opts.users = users;
  }

  get users(): Record<string, string> {
    return { ...this.opts.users };
  }

  async stop(): Promise<void> {
    this.hung.release();
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

  private deny(res: http.ServerResponse, secure: boolean): void {
    res.writeHead(401, { 'WWW-Authenticate': secure ? ['Negotiate', 'Basic realm="WSMAN"'] : ['Negotiate'], 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' });
    res.end();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let conn = this.conns.get(req.socket);
    if (!conn) this.conns.set(req.socket, (conn = {}));
    try {
      const faults = this.opts.faults;
      await sleep(faults?.latencyFor('winrm') ?? 0);
      // transport faults hit any request (an NTLM leg too); a malformed body only a SOAP reply (serveSoap)
      const fault = faults?.take({ endpoint: 'winrm', host: this.opts.host }, (a) => a.kind !== 'malformed');
      const sendStatus = (status: number) => res.writeHead(status, { 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' }).end();
      if (applyHttpFault(fault, req, res, { hung: this.hung, sendStatus, markMalformed: () => {} })) return;
      await this.authenticated(req, res, secure, conn, body);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Length': '0' });
      res.end();
      void e;
    }
  }

  /** Basic (HTTPS only) authenticates the request alone; Negotiate/NTLM the connection, after its handshake legs. */
  private async authenticated(req: http.IncomingMessage, res: http.ServerResponse, secure: boolean, conn: ConnState, body: Buffer): Promise<void> {
    const authz = req.headers.authorization ?? '';
    if (/^Basic /i.test(authz)) {
      if (!secure) return this.deny(res, secure);
      const [u, ...rest] = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8').split(':');
      if (!u || !this.checkPassword(u, rest.join(':'))) return this.deny(res, secure);
      return await this.serveSoap(body, res, undefined, u);
    }
    if (/^(Negotiate|NTLM) /i.test(authz) && this.negotiate(authz, conn, res, secure, body) === 'answered') return;
    const user = conn.user;
    if (!user) return this.deny(res, secure);
    const encrypted = isEncryptedContentType(req.headers['content-type']);
    if (!secure && !encrypted) return this.deny(res, secure); // AllowUnencrypted=false
    if (!encrypted) return await this.serveSoap(body, res, undefined, user);
    if (!conn.session) return this.deny(res, secure);
    let plain: Buffer;
    try {
      plain = unframeEncrypted(body, conn.session);
    } catch {
      res.writeHead(400, { 'Content-Length': '0' });
      res.end();
      return;
    }
    return await this.serveSoap(plain, res, conn.session, user);
  }

  /** One NTLM leg: type 1 gets the challenge, type 3 authenticates the connection (and may carry the first request). */
  private negotiate(authz: string, conn: ConnState, res: http.ServerResponse, secure: boolean, body: Buffer): 'answered' | 'continue' {
    const token = negotiateToken(authz);
    const type = token && token.length >= 12 ? token.readUInt32LE(8) : 0;
    if (token && type === 1) {
      conn.acceptor = new NtlmAcceptor({ computerName: this.opts.computerName ?? 'LABSTATION', lookupPassword: this.lookupPassword, channelBindingData: secure ? this.cbtData : undefined });
      conn.user = undefined;
      conn.session = undefined;
      const challenge = conn.acceptor.challenge(token);
      res.writeHead(401, { 'WWW-Authenticate': `Negotiate ${challenge.toString('base64')}`, 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' });
      res.end();
      return 'answered';
    }
    if (!token || type !== 3 || !conn.acceptor) {
      this.deny(res, secure);
      return 'answered';
    }
    let accepted;
    try {
      accepted = conn.acceptor.accept(token);
    } catch {
      accepted = undefined;
    }
    conn.acceptor = undefined;
    if (!accepted || (!secure && !accepted.session)) {
      this.deny(res, secure);
      return 'answered';
    }
    conn.user = accepted.user;
    conn.session = accepted.session;
    this.ntlmLogons++;
    if (body.length > 0) return 'continue';
    res.writeHead(200, { 'Content-Length': '0', Server: 'Microsoft-HTTPAPI/2.0' });
    res.end();
    return 'answered';
  }

  private async serveSoap(body: Buffer, res: http.ServerResponse, session: SessionSecurity | undefined, user: string): Promise<void> {
    const { status, xml, action } = await this.dispatch(body.toString('utf8'), user);
    const malformed = this.opts.faults?.take({ endpoint: 'winrm', host: this.opts.host }, (a) => a.kind === 'malformed');
    const tampered = this.opts.tamper ? this.opts.tamper(action, xml) : xml;
    const out = Buffer.from(malformed ? truncated(tampered) : tampered, 'utf8');
    if (session) {
      const framed = frameEncrypted(out, session);
      res.writeHead(status, { 'Content-Type': ENCRYPTED_CONTENT_TYPE, 'Content-Length': String(framed.length), Server: 'Microsoft-HTTPAPI/2.0' });
      res.end(framed);
    } else {
      res.writeHead(status, { 'Content-Type': 'application/soap+xml;charset=UTF-8', 'Content-Length': String(out.length), Server: 'Microsoft-HTTPAPI/2.0' });
      res.end(out);
    }
  }

  private async dispatch(xml: string, user: string): Promise<SoapReply> {
    let doc: XNode;
    try {
      doc = parseSoap(xml);
    } catch {
      return { status: 500, xml: fault('', 's:Sender', 'w:SchemaValidationError', 'The SOAP XML in the message does not match the corresponding XML schema definition.', 2150858817), action: 'invalid' };
    }
    const header = path(doc, 'Envelope', 'Header');
    const actionUri = text(first(header, 'Action'));
    const shellId = findAll(first(header, 'SelectorSet'), 'Selector').find((s) => attr(s, 'Name') === 'ShellId');
    const q: SoapRequest = {
      header,
      body: path(doc, 'Envelope', 'Body'),
      messageId: text(first(header, 'MessageID')),
      actionUri,
      user,
      shell: shellId ? this.shells.get(text(shellId)) : undefined,
    };
    switch (actionUri) {
      case ACTION.create:
        return this.create(q);
      case ACTION.command:
        return q.shell ? this.command(q, q.shell) : noShell(q);
      case ACTION.receive:
        return q.shell ? this.receive(q, q.shell) : noShell(q);
      case ACTION.signal:
        return q.shell ? this.signal(q, q.shell) : noShell(q);
      case ACTION.delete:
        return q.shell ? this.deleteShell(q, q.shell) : noShell(q);
      default:
        return { status: 500, xml: fault(q.messageId, 's:Sender', 'a:ActionNotSupported', `The action ${actionUri} is not supported by the service.`, 2150858899), action: actionUri };
    }
  }

  private create(q: SoapRequest): SoapReply {
    const resourceUri = text(first(q.header, 'ResourceURI'));
    if (resourceUri !== RESOURCE_CMD) {
      // only the cmd shell plugin is implemented here; a PowerShell (PSRP) shell is as unavailable as an unregistered one
      const reason = `The WS-Management service cannot process the request. The resource URI (${resourceUri}) was not found in the WS-Management catalog. The catalog contains the metadata that describes resources, or logical endpoints.`;
      return { status: 500, xml: fault(q.messageId, 's:Sender', 'w:InvalidResourceURI', reason, INVALID_RESOURCE_URI), action: 'Create' };
    }
    const options = new Map(findAll(first(q.header, 'OptionSet'), 'Option').map((o) => [attr(o, 'Name') ?? '', text(o)]));
    const id = randomUUID().toUpperCase();
    this.shells.set(id, { id, codepage: Number(options.get('WINRS_CODEPAGE') ?? 437) || 437, commands: new Map() });
    this.events.push({ action: 'Create', shellId: id });
    const b =
      `<x:ResourceCreated><a:Address>http://${this.opts.address}:5985/wsman</a:Address><a:ReferenceParameters>` +
      `<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>` +
      `<w:SelectorSet><w:Selector Name="ShellId">${id}</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>` +
      `<rsp:Shell><rsp:ShellId>${id}</rsp:ShellId><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`;
    return { status: 200, xml: reply(q.messageId, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse', b), action: 'Create' };
  }

  private command(q: SoapRequest, shell: Shell): SoapReply {
    const line = first(q.body, 'CommandLine');
    const commandLine = winrsJoin(text(first(line, 'Command')), children(line, 'Arguments').map(text));
    const id = randomUUID().toUpperCase();
    const abort = new AbortController();
    const rc: RunningCommand = { id, abort, delivered: false, done: this.windows.run(commandLine, { user: q.user, codepage: shell.codepage }, abort.signal) };
    void rc.done.then((r) => (rc.result = r));
    shell.commands.set(id, rc);
    this.events.push({ action: 'Command', shellId: shell.id, commandId: id });
    return { status: 200, xml: reply(q.messageId, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse', `<rsp:CommandResponse><rsp:CommandId>${id}</rsp:CommandId></rsp:CommandResponse>`), action: 'Command' };
  }

  private async receive(q: SoapRequest, shell: Shell): Promise<SoapReply> {
    const desired = first(first(q.body, 'Receive'), 'DesiredStream');
    const cmdId = attr(desired, 'CommandId') ?? '';
    const rc = shell.commands.get(cmdId);
    this.events.push({ action: 'Receive', shellId: shell.id, commandId: cmdId });
    if (!rc) return noShell(q);
    const opTimeoutMs = parseDuration(text(first(q.header, 'OperationTimeout'))) ?? 60_000;
    const wait = Math.min(opTimeoutMs, this.opts.maxOperationTimeoutMs ?? 60_000);
    const result = rc.result ?? (await Promise.race([rc.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), wait).unref())]));
    if (!result) {
      const reason = 'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ';
      return { status: 500, xml: fault(q.messageId, 's:Receiver', 'w:TimedOut', reason, FAULT.operationTimeout), action: 'Receive' };
    }
    rc.delivered = true;
    const streams = [...streamElements('stdout', cmdId, result.stdout), ...streamElements('stderr', cmdId, result.stderr)].join('');
    const b =
      `<rsp:ReceiveResponse>${streams}<rsp:CommandState CommandId="${cmdId}" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done">` +
      `<rsp:ExitCode>${result.exitCode}</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`;
    return { status: 200, xml: reply(q.messageId, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse', b), action: 'Receive' };
  }

  private signal(q: SoapRequest, shell: Shell): SoapReply {
    const cmdId = attr(first(q.body, 'Signal'), 'CommandId') ?? '';
    shell.commands.get(cmdId)?.abort.abort();
    shell.commands.delete(cmdId);
    this.events.push({ action: 'Signal', shellId: shell.id, commandId: cmdId });
    return { status: 200, xml: reply(q.messageId, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse', '<rsp:SignalResponse/>'), action: 'Signal' };
  }

  private deleteShell(q: SoapRequest, shell: Shell): SoapReply {
    for (const c of shell.commands.values()) c.abort.abort();
    this.shells.delete(shell.id);
    this.events.push({ action: 'Delete', shellId: shell.id });
    return { status: 200, xml: reply(q.messageId, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse', ''), action: 'Delete' };
  }
}

interface SoapReply {
  status: number;
  xml: string;
  action: string;
}

interface SoapRequest {
  header: XNode | undefined;
  body: XNode | undefined;
  messageId: string;
  actionUri: string;
  user: string;
  shell: Shell | undefined;
}

function noShell(q: SoapRequest): SoapReply {
  const reason = 'The request for the Windows Remote Shell with ShellId failed because the shell was not found on the server.';
  return { status: 500, xml: fault(q.messageId, 's:Sender', 'w:InvalidSelectors', reason, FAULT.shellNotFound), action: q.actionUri };
}

function parseDuration(s: string): number | undefined {
  const m = /^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(s.trim());
  if (!m || (!m[1] && !m[2])) return undefined;
  return Math.round((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000);
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
