// WS-Management SOAP: request builders (string templates, exact bytes) and response parsing on local names
// (xml.ts), as pywinrm and the Ruby gem do.
import { randomUUID } from 'node:crypto';
import { XmlFormatError, parseXml, type XNode } from './xml.js';

export type { XNode } from './xml.js';

export const NS = {
  env: 'http://www.w3.org/2003/05/soap-envelope',
  a: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  w: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  p: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  x: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  f: 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
} as const;

export const RESOURCE_CMD = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';
export const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';
export const ACTION = {
  create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
  send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
} as const;
export const SIGNAL_TERMINATE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate';
export const STATE_DONE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done';
export const STATE_RUNNING = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running';

export const FAULT = {
  operationTimeout: 2150858793,
  shellNotFound: 2150858843,
  quotaExceeded: 2150859174,
} as const;

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Seconds as an xs:duration, e.g. PT20S or PT0.5S. */
export function isoSeconds(ms: number): string {
  const s = Math.max(ms, 1) / 1000;
  return `PT${Number.isInteger(s) ? s : s.toFixed(3)}S`;
}

export interface HeaderOptions {
  to: string;
  action: string;
  messageId?: string;
  shellId?: string;
  operationTimeoutMs: number;
  options?: Array<[string, string]>;
}

export function envelope(h: HeaderOptions, body: string): { xml: string; messageId: string } {
  const messageId = h.messageId ?? `uuid:${randomUUID().toUpperCase()}`;
  const selector = h.shellId ? `<w:SelectorSet><w:Selector Name="ShellId">${xmlEscape(h.shellId)}</w:Selector></w:SelectorSet>` : '';
  const options = h.options?.length
    ? `<w:OptionSet>${h.options.map(([k, v]) => `<w:Option Name="${xmlEscape(k)}">${xmlEscape(v)}</w:Option>`).join('')}</w:OptionSet>`
    : '';
  const xml =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<env:Envelope xmlns:env="${NS.env}" xmlns:a="${NS.a}" xmlns:w="${NS.w}" xmlns:p="${NS.p}" xmlns:rsp="${NS.rsp}">` +
    `<env:Header>` +
    `<a:To>${xmlEscape(h.to)}</a:To>` +
    `<a:ReplyTo><a:Address mustUnderstand="true">${ANONYMOUS}</a:Address></a:ReplyTo>` +
    `<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>` +
    `<a:MessageID>${messageId}</a:MessageID>` +
    `<w:Locale xml:lang="en-US" mustUnderstand="false"/>` +
    `<p:DataLocale xml:lang="en-US" mustUnderstand="false"/>` +
    `<w:OperationTimeout>${isoSeconds(h.operationTimeoutMs)}</w:OperationTimeout>` +
    `<w:ResourceURI mustUnderstand="true">${RESOURCE_CMD}</w:ResourceURI>` +
    `<a:Action mustUnderstand="true">${h.action}</a:Action>` +
    selector +
    options +
    `</env:Header><env:Body>${body}</env:Body></env:Envelope>`;
  return { xml, messageId };
}

export function createShellBody(opts: { workingDirectory?: string; env?: Record<string, string> } = {}): string {
  const wd = opts.workingDirectory ? `<rsp:WorkingDirectory>${xmlEscape(opts.workingDirectory)}</rsp:WorkingDirectory>` : '';
  const env = opts.env
    ? `<rsp:Environment>${Object.entries(opts.env)
        .map(([k, v]) => `<rsp:Variable Name="${xmlEscape(k)}">${xmlEscape(v)}</rsp:Variable>`)
        .join('')}</rsp:Environment>`
    : '';
  return `<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>${wd}${env}</rsp:Shell>`;
}

export function commandBody(command: string, args: string): string {
  const a = args ? `<rsp:Arguments>${xmlEscape(args)}</rsp:Arguments>` : '';
  return `<rsp:CommandLine><rsp:Command>${xmlEscape(command)}</rsp:Command>${a}</rsp:CommandLine>`;
}

export function receiveBody(commandId: string): string {
  return `<rsp:Receive><rsp:DesiredStream CommandId="${xmlEscape(commandId)}">stdout stderr</rsp:DesiredStream></rsp:Receive>`;
}

export function signalBody(commandId: string): string {
  return `<rsp:Signal CommandId="${xmlEscape(commandId)}"><rsp:Code>${SIGNAL_TERMINATE}</rsp:Code></rsp:Signal>`;
}

// ---- parsing ----

export class SoapFormatError extends Error {}

export function parseSoap(xml: string): XNode {
  if (!xml.trim()) throw new SoapFormatError('empty response body');
  let doc: XNode;
  try {
    doc = parseXml(xml);
  } catch (e) {
    if (e instanceof XmlFormatError) throw new SoapFormatError(`not well-formed XML (${e.message})`);
    throw e;
  }
  if (!first(doc, 'Envelope')) throw new SoapFormatError('no SOAP Envelope');
  return doc;
}

export function children(n: XNode | undefined, name: string): XNode[] {
  const v = n?.[name];
  return Array.isArray(v) ? v : [];
}
export function first(n: XNode | undefined, name: string): XNode | undefined {
  return children(n, name)[0];
}
export function path(n: XNode | undefined, ...names: string[]): XNode | undefined {
  let cur = n;
  for (const name of names) cur = first(cur, name);
  return cur;
}
export function text(n: XNode | undefined): string {
  if (n === undefined) return '';
  if (typeof n === 'string') return n;
  return typeof n['#text'] === 'string' ? n['#text'] : '';
}
export function attr(n: XNode | undefined, name: string): string | undefined {
  const v = n?.[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

/** Depth-first search for all elements with a local name. */
export function findAll(n: XNode | undefined, name: string, out: XNode[] = []): XNode[] {
  if (!n || typeof n !== 'object') return out;
  for (const [k, v] of Object.entries(n)) {
    if (!Array.isArray(v)) continue;
    for (const child of v) {
      if (k === name) out.push(child);
      findAll(child, name, out);
    }
  }
  return out;
}

export function body(doc: XNode): XNode | undefined {
  return path(doc, 'Envelope', 'Body');
}

export interface SoapFault {
  code: string;
  subcode: string;
  reason: string;
  wsmanCode?: number;
  wmiCode?: number;
}

export function parseFault(doc: XNode): SoapFault | undefined {
  const fault = first(body(doc), 'Fault');
  if (!fault) return undefined;
  const code = first(fault, 'Code');
  const wsman = findAll(first(fault, 'Detail'), 'WSManFault')[0];
  const wmi = findAll(first(fault, 'Detail'), 'error_Code')[0];
  const wsmanCode = attr(wsman, 'Code');
  const reasonText = children(first(fault, 'Reason'), 'Text').map(text).join(' ').trim();
  const wsmanMessage = text(first(wsman, 'Message')).trim();
  return {
    code: text(first(code, 'Value')),
    subcode: text(path(code, 'Subcode', 'Value')),
    reason: reasonText || wsmanMessage || '(no error message in fault)',
    wsmanCode: wsmanCode !== undefined && /^\d+$/.test(wsmanCode) ? Number(wsmanCode) : undefined,
    wmiCode: wmi && /^\d+$/.test(text(wmi)) ? Number(text(wmi)) : undefined,
  };
}

export function findShellId(doc: XNode): string | undefined {
  const sel = findAll(doc, 'Selector').find((s) => attr(s, 'Name') === 'ShellId');
  if (sel) return text(sel);
  const shellId = findAll(doc, 'ShellId')[0];
  return shellId ? text(shellId) : undefined;
}

export function findCommandId(doc: XNode): string | undefined {
  const id = findAll(body(doc), 'CommandId')[0];
  return id ? text(id) : undefined;
}

export function relatesTo(doc: XNode): string {
  return text(path(doc, 'Envelope', 'Header', 'RelatesTo'));
}

export interface ReceiveChunk {
  stdout: Buffer[];
  stderr: Buffer[];
  done: boolean;
  exitCode?: number;
}

export function parseReceive(doc: XNode): ReceiveChunk {
  const out: ReceiveChunk = { stdout: [], stderr: [], done: false };
  const resp = first(body(doc), 'ReceiveResponse');
  if (!resp) throw new SoapFormatError('no ReceiveResponse in the reply');
  for (const s of children(resp, 'Stream')) {
    const data = text(s);
    if (!data) continue;
    const bytes = Buffer.from(data, 'base64');
    const name = attr(s, 'Name');
    if (name === 'stdout') out.stdout.push(bytes);
    else if (name === 'stderr') out.stderr.push(bytes);
  }
  const state = first(resp, 'CommandState');
  if (state && (attr(state, 'State') ?? '').endsWith('CommandState/Done')) {
    out.done = true;
    const code = text(first(state, 'ExitCode'));
    out.exitCode = /^-?\d+$/.test(code) ? Number(code) : -1;
  }
  return out;
}
