// WS-Man request building and response parsing on local names (any prefixes), faults, receive streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACTION,
  FAULT,
  SoapFormatError,
  commandBody,
  envelope,
  findCommandId,
  findShellId,
  parseFault,
  parseReceive,
  parseSoap,
  relatesTo,
} from '../../src/core/winrm/soap.js';

test('envelope: header fields in pywinrm order, options, selector, escaped text', () => {
  const { xml, messageId } = envelope(
    { to: 'http://h:5985/wsman', action: ACTION.command, shellId: 'S<1>', operationTimeoutMs: 20_000, options: [['WINRS_CODEPAGE', '65001']] },
    commandBody('C:\\a & b.exe', 'x "y" <z>'),
  );
  assert.match(messageId, /^uuid:[0-9A-F-]{36}$/);
  assert.match(xml, /<w:OperationTimeout>PT20S<\/w:OperationTimeout>/);
  assert.match(xml, /<w:MaxEnvelopeSize mustUnderstand="true">153600<\/w:MaxEnvelopeSize>/);
  assert.match(xml, /<w:Selector Name="ShellId">S&lt;1&gt;<\/w:Selector>/);
  assert.match(xml, /<w:Option Name="WINRS_CODEPAGE">65001<\/w:Option>/);
  assert.match(xml, /<rsp:Command>C:\\a &amp; b.exe<\/rsp:Command><rsp:Arguments>x &quot;y&quot; &lt;z&gt;<\/rsp:Arguments>/);
  // our own parser reads it back
  const doc = parseSoap(xml);
  assert.equal(findShellId(doc), 'S<1>');
});

const CREATE_RESPONSE_OMI = `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:wxf="http://schemas.xmlsoap.org/ws/2004/09/transfer">
 <SOAP-ENV:Header><wsa:RelatesTo>uuid:ABC</wsa:RelatesTo></SOAP-ENV:Header>
 <SOAP-ENV:Body><wxf:ResourceCreated><wsa:ReferenceParameters><wsman:SelectorSet>
  <wsman:Selector Name="ShellId">11111111-1111-1111-1111-111111111113</wsman:Selector>
 </wsman:SelectorSet></wsa:ReferenceParameters></wxf:ResourceCreated></SOAP-ENV:Body></SOAP-ENV:Envelope>`;

test('responses are matched on local names, whatever the prefixes', () => {
  const doc = parseSoap(CREATE_RESPONSE_OMI);
  assert.equal(findShellId(doc), '11111111-1111-1111-1111-111111111113');
  assert.equal(relatesTo(doc), 'uuid:ABC');
  const cmd = parseSoap(
    `<s:Envelope xmlns:s="${'http://www.w3.org/2003/05/soap-envelope'}" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:CommandResponse><rsp:CommandId>11111111-1111-1111-1111-111111111114</rsp:CommandId></rsp:CommandResponse></s:Body></s:Envelope>`,
  );
  assert.equal(findCommandId(cmd), '11111111-1111-1111-1111-111111111114');
});

function receiveXml(streams: string, state = 'Done', exit = '0'): string {
  return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:ReceiveResponse>${streams}<rsp:CommandState CommandId="C" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/${state}">${state === 'Done' ? `<rsp:ExitCode>${exit}</rsp:ExitCode>` : ''}</rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>`;
}

test('receive: bytes concatenated per stream before decoding (a UTF-8 character split across chunks)', () => {
  const bytes = Buffer.from('Grüße ✓');
  const [a, b] = [bytes.subarray(0, 3), bytes.subarray(3)]; // splits the ü
  const doc = parseSoap(
    receiveXml(
      `<rsp:Stream Name="stdout" CommandId="C">${a.toString('base64')}</rsp:Stream><rsp:Stream Name="stderr" CommandId="C">ZXJy</rsp:Stream>` +
        `<rsp:Stream Name="stdout" CommandId="C">${b.toString('base64')}</rsp:Stream><rsp:Stream Name="stdout" CommandId="C" End="true"></rsp:Stream>`,
      'Done',
      '3',
    ),
  );
  const r = parseReceive(doc);
  assert.equal(Buffer.concat(r.stdout).toString('utf8'), 'Grüße ✓');
  assert.equal(Buffer.concat(r.stderr).toString('utf8'), 'err');
  assert.equal(r.done, true);
  assert.equal(r.exitCode, 3);
});

test('receive: Running state is not done; Done without ExitCode gives -1 (as pywinrm)', () => {
  assert.equal(parseReceive(parseSoap(receiveXml('', 'Running'))).done, false);
  const r = parseReceive(parseSoap(receiveXml('', 'Done', '')));
  assert.equal(r.exitCode, -1);
});

const TIMEOUT_FAULT = `<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header/><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  </s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793" Machine="host"><f:Message></f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`;

test('faults: OperationTimeout, no reason, WMI error code', () => {
  const f = parseFault(parseSoap(TIMEOUT_FAULT))!;
  assert.equal(f.wsmanCode, FAULT.operationTimeout);
  assert.equal(f.code, 's:Receiver');
  assert.equal(f.subcode, 'w:TimedOut');
  assert.match(f.reason, /OperationTimeout/);
  const noReason = parseFault(parseSoap(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:MustUnderstand</s:Value></s:Code></s:Fault></s:Body></s:Envelope>`))!;
  assert.equal(noReason.reason, '(no error message in fault)');
  assert.equal(noReason.code, 's:MustUnderstand');
  const wmi = parseFault(
    parseSoap(
      `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text>quota</s:Text></s:Reason><s:Detail><p:MSFT_WmiError xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"><p:error_Code>2150859174</p:error_Code></p:MSFT_WmiError></s:Detail></s:Fault></s:Body></s:Envelope>`,
    ),
  )!;
  assert.equal(wmi.wmiCode, 0x803381a6);
  assert.equal(parseFault(parseSoap(CREATE_RESPONSE_OMI)), undefined);
});

test('malformed SOAP is a SoapFormatError with a clear message', () => {
  assert.throws(() => parseSoap(''), SoapFormatError);
  assert.throws(() => parseSoap('<s:Envelope><s:Body>'), /not well-formed XML/);
  assert.throws(() => parseSoap('<html><body>502 Bad Gateway</body></html>'), /no SOAP Envelope/);
  assert.throws(() => parseReceive(parseSoap(CREATE_RESPONSE_OMI)), /no ReceiveResponse/);
});
