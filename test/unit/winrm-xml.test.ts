// The XML reader WinRM replies and CLIXML go through: local names, attributes, text and entities as the protocol
// code expects them, and a refusal (with the line) for everything that is not well-formed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmlFormatError, parseXml } from '../../src/core/winrm/xml.js';

test('elements by local name, always arrays; attributes without prefixes; xmlns dropped; text trimmed and decoded', () => {
  const doc = parseXml(
    '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<!-- reply -->\n<s:Envelope xmlns:s="urn:s" xml:lang="en-US"><s:Body>' +
      '<rsp:Stream Name="stdout" CommandId=\'C1\'>  aGk= </rsp:Stream><rsp:Stream Name="stderr" End="true"/>' +
      '<f:Message>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#233;&#x1F600;<![CDATA[ <raw> & ]]></f:Message>' +
      '</s:Body></s:Envelope>',
  );
  const body = (doc.Envelope as never[])[0]!['Body'] as never as Array<Record<string, unknown>>;
  assert.deepEqual((doc.Envelope as Array<Record<string, unknown>>)[0]!['@_lang'], 'en-US');
  assert.deepEqual(body[0]!.Stream, [{ '@_Name': 'stdout', '@_CommandId': 'C1', '#text': 'aGk=' }, { '@_Name': 'stderr', '@_End': 'true' }]);
  assert.deepEqual(body[0]!.Message, [{ '#text': 'a <b> & "c" \'d\' é😀 <raw> &' }]);
  assert.equal(Object.keys((doc.Envelope as Array<Record<string, unknown>>)[0]!).includes('@_s'), false);
});

test('anything not well-formed is refused with its line and reason', () => {
  const bad: [string, RegExp][] = [
    ['<a><b></a>', /line 1: <\/a> does not close <b>/],
    ['<a>\n<b>', /line 2: <b> is not closed/],
    ['<a/><b/>', /a second root element/],
    ['text', /text outside the root element/],
    ['', /no element/],
    ['<a>x & y</a>', /bare &/],
    ['<a>&nbsp;</a>', /bare &/],
    ['<a>&#0;</a>', /character reference/],
    ['<a b=c/>', /malformed attribute in <a>/],
    ['<a b="1"c="2"/>', /malformed attribute/],
    ['<a b="1" b="2"/>', /repeated attribute b/],
    ['<a b="<"/>', /malformed attribute/],
    ['<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', /DOCTYPE/],
    ['<a><!-- x </a>', /unterminated comment/],
    ['<s:Envelope><s:Body><rsp:ReceiveResponse>', /<rsp:ReceiveResponse> is not closed/],
    ['<1a/>', /malformed start tag/],
  ];
  for (const [xml, want] of bad) assert.throws(() => parseXml(xml), (e: unknown) => e instanceof XmlFormatError && want.test(e.message), JSON.stringify(xml));
});
