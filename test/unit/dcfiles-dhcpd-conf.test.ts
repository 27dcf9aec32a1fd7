import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planNextServerPatch, scanDhcpd, DhcpdSyntaxError } from '../../src/domain/dhcpd-conf/index.js';
import { scanDhcpdTokens, scanLinuxmusterShape } from '../../src/domain/dhcpd-conf/scan.js';
import { dhcpdErrorLine } from '../../src/ops/dhcp-patch.js';
import { fixture } from '../support/dc-tree.js';

const IP = '10.0.0.13';
const SAMPLE = fixture('dhcp-devices.default-school.conf.sample');
const PATCHED = fixture('dhcp-devices.default-school.patched.conf.sample');

describe('next-server patch planner', () => {
  test('sample + sample delta hosts gives the hook output byte for byte', () => {
    const plan = planNextServerPatch(SAMPLE, ['sgm-pc02', 'pc01'], IP);
    assert.equal(plan.output, PATCHED);
    assert.deepEqual(plan.hosts.map((h) => [h.host, h.action]), [['sgm-pc02', 'insert'], ['pc01', 'insert']]);
  });

  test("the hook's real run: pc01 had a wrong next-server 10.0.0.1 (replace path), same output", () => {
    const input = SAMPLE.replace('  hardware ethernet AA:BB:CC:DD:EE:FF;\n', '  hardware ethernet AA:BB:CC:DD:EE:FF;\n  next-server 10.0.0.1;\n');
    assert.notEqual(input, SAMPLE);
    const plan = planNextServerPatch(input, ['sgm-pc02', 'pc01'], IP);
    assert.equal(plan.output, PATCHED);
    assert.deepEqual(plan.hosts.map((h) => [h.host, h.action, h.previous]), [['sgm-pc02', 'insert', undefined], ['pc01', 'replace', ['10.0.0.1']]]);
  });

  test('idempotent: planning on the output changes nothing', () => {
    const plan = planNextServerPatch(PATCHED, ['sgm-pc02', 'pc01'], IP);
    assert.equal(plan.changed, false);
    assert.equal(plan.output, PATCHED);
    assert.deepEqual(plan.hosts.map((h) => h.action), ['keep', 'keep']);
  });

  test('exact address comparison: 10.0.0.13 is not 10.0.0.1 and 10.0.0.1 is not 10.0.0.13 (the hook used a substring test)', () => {
    const block = (ns: string) => `host a {\n  hardware ethernet 00:11:22:33:44:55;\n  next-server ${ns};\n}\n`;
    const down = planNextServerPatch(block('10.0.0.13'), ['a'], '10.0.0.1');
    assert.equal(down.hosts[0]!.action, 'replace');
    assert.equal(down.output, block('10.0.0.1'));
    const up = planNextServerPatch(block('10.0.0.1'), ['a'], '10.0.0.13');
    assert.equal(up.hosts[0]!.action, 'replace');
    const prefix = planNextServerPatch(block('110.0.0.13'), ['a'], '10.0.0.13');
    assert.equal(prefix.hosts[0]!.action, 'replace');
  });

  test('single-line host block is patched inline, not dropped (the hook dropped it)', () => {
    const text = 'host x { hardware ethernet 00:11:22:33:44:55; fixed-address 10.0.0.5; }\nhost y {\n  hardware ethernet 00:11:22:33:44:56;\n}\n';
    const plan = planNextServerPatch(text, ['x', 'y'], IP);
    assert.equal(
      plan.output,
      'host x { hardware ethernet 00:11:22:33:44:55; next-server 10.0.0.13; fixed-address 10.0.0.5; }\nhost y {\n  hardware ethernet 00:11:22:33:44:56;\n  next-server 10.0.0.13;\n}\n',
    );
    assert.deepEqual(planNextServerPatch(plan.output, ['x', 'y'], IP).changed, false);
  });

  test('single-line block with a wrong next-server is replaced in place', () => {
    const plan = planNextServerPatch('host x { hardware ethernet 00:11:22:33:44:55; next-server 1.2.3.4; }', ['x'], IP);
    assert.equal(plan.output, 'host x { hardware ethernet 00:11:22:33:44:55; next-server 10.0.0.13; }');
  });

  test('unterminated host block at end of file is a syntax error (never silently dropped)', () => {
    const text = `${SAMPLE}host broken {\n  hardware ethernet 00:11:22:33:44:57;\n`;
    assert.throws(() => planNextServerPatch(text, ['broken'], IP), (e: unknown) => e instanceof DhcpdSyntaxError && e.line === SAMPLE.split("\n").length);
  });

  test('stray closing brace and missing semicolon are syntax errors with line numbers', () => {
    assert.throws(() => scanDhcpd('host a {\n}\n}\n'), /line 3: '}' without a matching '{'/);
    assert.throws(() => scanDhcpd('host a {\n  hardware ethernet 00:11:22:33:44:55\n}\n'), /line 3: missing ';' before '}'/);
    assert.throws(() => scanDhcpd('host a { option host-name "a;\n}\n'), /line 1: unterminated string/);
  });

  test('a host block without a hardware line is reported, not patched', () => {
    const text = 'host nohw {\n  fixed-address 10.0.0.9;\n}\n';
    const plan = planNextServerPatch(text, ['nohw'], IP);
    assert.deepEqual(plan.hosts.map((h) => h.action), ['no-hardware']);
    assert.equal(plan.changed, false);
  });

  test('multi-school names match <school>-<host> exactly', () => {
    const text = 'host schoolb-pc1 {\n  hardware ethernet 00:11:22:33:44:55;\n}\nhost pc1 {\n  hardware ethernet 00:11:22:33:44:56;\n}\n';
    const plan = planNextServerPatch(text, ['schoolb-pc1'], IP);
    assert.deepEqual(plan.hosts.map((h) => h.host), ['schoolb-pc1']);
    assert.match(plan.output, /host pc1 \{\n {2}hardware ethernet 00:11:22:33:44:56;\n\}/);
  });

  test('keeps indentation (tabs), uses two spaces when the hardware line has none, keeps CRLF', () => {
    assert.equal(
      planNextServerPatch('host a {\n\thardware ethernet 00:11:22:33:44:55;\n}\n', ['a'], IP).output,
      'host a {\n\thardware ethernet 00:11:22:33:44:55;\n\tnext-server 10.0.0.13;\n}\n',
    );
    assert.equal(
      planNextServerPatch('host a {\nhardware ethernet 00:11:22:33:44:55;\n}\n', ['a'], IP).output,
      'host a {\nhardware ethernet 00:11:22:33:44:55;\n  next-server 10.0.0.13;\n}\n',
    );
    assert.equal(
      planNextServerPatch('host a {\r\n  hardware ethernet 00:11:22:33:44:55;\r\n}\r\n', ['a'], IP).output,
      'host a {\r\n  hardware ethernet 00:11:22:33:44:55;\r\n  next-server 10.0.0.13;\r\n}\r\n',
    );
  });

  test('each host keeps its own indentation and line ending in a file that mixes them', () => {
    const text = 'host a {\n\thardware ethernet 00:11:22:33:44:01;\n}\nhost b {\r\n\thardware ethernet 00:11:22:33:44:02;\r\n}\r\nhost c {\n    hardware ethernet 00:11:22:33:44:03; # x\n}\nhost d {\n\thardware ethernet 00:11:22:33:44:04;\n}\n';
    assert.equal(
      planNextServerPatch(text, ['a', 'b', 'c', 'd'], IP).output,
      'host a {\n\thardware ethernet 00:11:22:33:44:01;\n\tnext-server 10.0.0.13;\n}\nhost b {\r\n\thardware ethernet 00:11:22:33:44:02;\r\n\tnext-server 10.0.0.13;\r\n}\r\n' +
        'host c {\n    hardware ethernet 00:11:22:33:44:03; # x\n    next-server 10.0.0.13;\n}\nhost d {\n\thardware ethernet 00:11:22:33:44:04;\n\tnext-server 10.0.0.13;\n}\n',
    );
  });

  test('a host block inside another whose hardware line comes after it: both patched where they belong', () => {
    // the outer block is listed first but its edit lies after the inner one's: the edits must be put in file order
    const text = 'host outer {\n  host inner {\n    hardware ethernet 00:11:22:33:44:02;\n  }\n  hardware ethernet 00:11:22:33:44:01;\n}\n';
    assert.equal(
      planNextServerPatch(text, ['outer', 'inner'], IP).output,
      'host outer {\n  host inner {\n    hardware ethernet 00:11:22:33:44:02;\n    next-server 10.0.0.13;\n  }\n  hardware ethernet 00:11:22:33:44:01;\n  next-server 10.0.0.13;\n}\n',
    );
  });

  test('braces in comments and strings, nested groups, case-insensitive names', () => {
    const text = '# } not a brace {\ngroup {\n  host PC-A { # {\n    option host-name "}{";\n    hardware ethernet 00:11:22:33:44:55; # trailing\n  }\n}\n';
    const plan = planNextServerPatch(text, ['pc-a'], IP);
    assert.equal(plan.output, '# } not a brace {\ngroup {\n  host PC-A { # {\n    option host-name "}{";\n    hardware ethernet 00:11:22:33:44:55; # trailing\n    next-server 10.0.0.13;\n  }\n}\n');
  });

  test('hosts that are not wanted pass through; wanted hosts without a block are listed as missing', () => {
    const plan = planNextServerPatch(SAMPLE, ['pc01', 'ghost'], IP);
    assert.deepEqual(plan.missing, ['ghost']);
    assert.equal(plan.hosts.length, 1);
    assert.equal(plan.output.split('next-server').length - 1, 1);
  });

  test('a newline escaped in a string still counts as a line, as dhcpd counts it (dhcpd 4.4.3 -t: next-server on line 5)', () => {
    const text = 'host a {\n  option host-name "a\\\nb";\n  hardware ethernet 00:11:22:33:44:55;\n  next-server 10.0.0.300;\n}\n';
    const [host] = scanDhcpd(text).hosts;
    assert.equal(host!.hardware!.line, 4);
    assert.equal(host!.nextServers[0]!.line, 5);
    assert.throws(() => scanDhcpd(`${text}}\n`), (e: unknown) => e instanceof DhcpdSyntaxError && e.line === 7);
  });

  test('include statements are collected', () => {
    assert.deepEqual(scanDhcpd('group {\n include "/etc/dhcp/devices.conf";\n}\n').includes, [{ path: '/etc/dhcp/devices.conf', line: 2 }]);
  });
});

describe('the linuxmuster-shape reader agrees with the tokenizer', () => {
  const HEADS = ['host pc1 {\n', 'HOST Pc-2 {\n', 'host\tpc3   {  # { c\n', '  host pc4 {\r\n', 'host "q" {\n', 'host a b {\n', 'host a { hardware ethernet 00:11:22:33:44:55; }\n', 'hoſt x {\n'];
  const BODY = [
    '  hardware ethernet AA:BB:CC:00:00:01;\n', '\thardware  ethernet\tAA:BB:CC:00:00:02 ;\n', '  HARDWARE ethernet x; # trailing ; {\n', '  hardware;\n', '  hardware=x;\n',
    '  hardware ethernet "x";\n', '  hardwarex y;\n', '  hardware ethernet a:b;\r\n', '\u00a0hardware ethernet c:d;\n', '  next-server 10.0.0.13;\n', '  next-server 10.0.0.1, 10.0.0.2;\n',
    '  Next-Server 10.0.0.1;\r\n', '  next-server\t10.0.0.13; # x\n', '  option host-name "pc1";\n', '  option x "a;b{}#";\n', '  option y "esc\\"q";\n', '  fixed-address 10.0.0.1;\n',
    '  option a; option b;\n', '  include "/y";\n', '\n', '  # comment }\n', '   \r\n', '  option extensions-path\n    "x";\n', '  =x;\n', '\f  fixed-address 1;\n',
  ];
  const TAILS = ['}\n', '} # done }\n', '  }\r\n', '}', '} host z {\n', ''];
  const GAPS = ['', '', '\n', '# subnet 10.0.0.0/16\n', '  \r\n', 'include "/x";\n', 'group {\n', '}\n', 'option a;\n', '"open\n'];

  test('the samples and a generated 2,000-host file are read by the fast path, to the same result', () => {
    let big = '# subnet 10.0.0.0/8\n';
    for (let i = 0; i < 2000; i++) big += `host pc${i} {\n  option host-name "pc${i}";\n  hardware ethernet AA:BB:CC:00:${(i >> 8).toString(16)}:${(i & 255).toString(16)};\n${i % 3 ? '' : '  next-server 10.0.0.1;\n'}${i % 7 ? '' : '  hardware ethernet 00:00:00:00:00:07;\n'}  fixed-address 10.0.${i >> 8}.${i & 255};\n}\n`;
    for (const text of [SAMPLE, PATCHED, big]) {
      const fast = scanLinuxmusterShape(text);
      assert.ok(fast, 'fast path taken');
      const slow = scanDhcpdTokens(text);
      assert.deepEqual(fast, slow);
      // every third host asked for: the others cost nothing, and the line numbers after them stay right
      const only = new Set(slow.hosts.filter((_, i) => i % 3 === 1).map((h) => h.name.toLowerCase()));
      const some = scanLinuxmusterShape(text, only)!;
      assert.equal(some.hosts.length, only.size);
      assert.deepEqual(some.hosts, slow.hosts.filter((h) => only.has(h.name.toLowerCase())));
    }
  });

  test('3,000 generated files: whatever the fast path accepts, the tokenizer reads the same way', () => {
    let seed = 11;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), (seed >>> 16) % n);
    const pick = (xs: string[], common: number) => (rnd(4) ? xs[rnd(common)]! : xs[rnd(xs.length)]!);
    let accepted = 0;
    for (let k = 0; k < 3000; k++) {
      let text = '';
      for (let b = rnd(5); b > 0; b--) {
        text += pick(GAPS, 4) + pick(HEADS, 4);
        for (let l = rnd(6); l > 0; l--) text += pick(BODY, 17);
        text += pick(TAILS, 3);
      }
      text += pick(GAPS, 4);
      const fast = scanLinuxmusterShape(text);
      let slow: ReturnType<typeof scanDhcpdTokens> | Error;
      try {
        slow = scanDhcpdTokens(text);
      } catch (e) {
        slow = e as Error;
      }
      // asked for some hosts only: the ones asked for, exactly as without the filter, on either path
      const only = new Set(slow instanceof Error ? ['pc1', 'nohost'] : slow.hosts.filter(() => rnd(2)).map((h) => h.name.toLowerCase()).concat('nohost'));
      const some = (r: typeof slow) => (r instanceof Error ? r : { hosts: r.hosts.filter((h) => only.has(h.name.toLowerCase())), includes: r.includes });
      if (slow instanceof Error) assert.throws(() => scanDhcpd(text, only), { message: slow.message });
      else assert.deepEqual(scanDhcpd(text, only), some(slow), JSON.stringify(text));
      if (fast === undefined) continue;
      accepted++;
      assert.deepEqual(fast, slow, JSON.stringify(text));
      assert.deepEqual(scanLinuxmusterShape(text, only), some(slow), JSON.stringify(text));
    }
    // both paths are exercised: most files are accepted, the odd ones fall back
    assert.ok(accepted > 300 && accepted < 2900, `accepted ${accepted}`);
  });
});

describe("dhcpd -t's error line for the dhcp-patch message", () => {
  test('the first line after the banner (output of ISC dhcpd 4.4.3 -t on a bad next-server)', () => {
    const output = [
      'Internet Systems Consortium DHCP Server 4.4.3-P1',
      'Copyright 2004-2022 Internet Systems Consortium.',
      'All rights reserved.',
      'For info, please visit https://www.isc.org/software/dhcp/',
      '/etc/dhcp/devices/default-school.conf line 3: 300 exceeds max (255) for precision.',
      '  next-server 10.0.0.300;',
      '                     ^',
      'Configuration file errors encountered -- exiting',
      '',
    ].join('\n');
    assert.equal(dhcpdErrorLine(output), '/etc/dhcp/devices/default-school.conf line 3: 300 exceeds max (255) for precision.');
  });

  test('the config, database and PID file lines are banner too; nothing but banner gives no line', () => {
    assert.equal(dhcpdErrorLine('Config file: /etc/dhcp/dhcpd.conf\nDatabase file: /var/lib/dhcp/dhcpd.leases\nPID file: /run/dhcpd.pid\n\nbad thing\n'), 'bad thing');
    assert.equal(dhcpdErrorLine('Internet Systems Consortium DHCP Server 4.4.3-P1\nCopyright 2004-2022 Internet Systems Consortium.\n'), undefined);
    assert.equal(dhcpdErrorLine(''), undefined);
  });
});
