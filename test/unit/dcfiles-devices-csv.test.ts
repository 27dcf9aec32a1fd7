import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyDeltaJob,
  decodeUtf8,
  devicesCsvPath,
  emptyDelta,
  fixMasterPath,
  formatProblem,
  mergeDevices,
  parseDevicesCsv,
  qualifiedHostname,
  selectPxeHosts,
  selectByLines,
  selectFromPlainRows,
  serializeDevicesCsv,
  validateDevices,
  DELTA_HEADER,
} from '../../src/domain/devices-csv/index.js';
import { fixture } from '../support/dc-tree.js';

const MASTER = fixture('devices.csv.sample');
const DELTA = fixture('linbo-docker.devices.csv.sample');
const MERGED = fixture('devices.merged.csv.sample');

describe('devices.csv parse and serialise', () => {
  test('round trip is byte-identical (samples, CRLF, no final newline, trailing spaces)', () => {
    for (const text of [MASTER, DELTA, MERGED, fixture('devices.malformed.csv.sample'), fixture('sophomorix-testdata.devices.csv.sample'), 'a;b\r\n# c\r\n\r\nd;e', ' x ; y ;\n\n\n']) {
      assert.equal(serializeDevicesCsv(parseDevicesCsv(text)), text);
    }
  });

  test('comments, blanks and rows; 15+ fields kept', () => {
    const f = parseDevicesCsv(MASTER);
    assert.deepEqual(f.lines.map((l) => l.kind).slice(0, 6), ['comment', 'comment', 'row', 'row', 'blank', 'comment']);
    assert.equal(f.lines[2]!.fields.length, 16);
  });

  test('UTF-8 decoding reports the line of the first invalid byte', () => {
    assert.deepEqual(decodeUtf8(Buffer.from('a\nb\n')), { text: 'a\nb\n' });
    assert.deepEqual(decodeUtf8(Buffer.from([0x61, 0x0a, 0x62, 0x0a, 0xff, 0x0a])), { badLine: 3 });
  });
});

describe('validation (sophomorix-device exit 88 and import-devices rules)', () => {
  test('the malformed sample is rejected with every problem listed', () => {
    const errors = validateDevices(parseDevicesCsv(fixture('devices.malformed.csv.sample'))).filter((p) => p.severity === 'error');
    assert.deepEqual(
      errors.map((p) => formatProblem(p)),
      [
        'line 8: error: too few fields: 3, a device row needs at least 11 (up to the pxe flag); sophomorix-device exits 88',
        "line 11: error: invalid MAC (field 4) 'ZZ:ZZ:ZZ:ZZ:ZZ:ZZ': six hex pairs separated by ':' or '-'",
        "line 14: error: invalid IP (field 5) '999.999.999.999': a dotted IPv4 address or DHCP",
        'line 17: error: too few fields: 4, a device row needs at least 11 (up to the pxe flag); sophomorix-device exits 88',
      ],
    );
  });

  test('the samples that sophomorix accepts pass', () => {
    for (const name of ['devices.csv.sample', 'devices.merged.csv.sample', 'sophomorix-testdata.devices.csv.sample']) {
      assert.deepEqual(validateDevices(parseDevicesCsv(fixture(name))).filter((p) => p.severity === 'error'), [], name);
    }
  });

  test('each exit-88 rule', () => {
    const row = (over: Record<number, string>) => {
      const f = 'r1;pc1;grp;AA:BB:CC:DD:EE:01;10.0.0.1;;;;;;1;;;;'.split(';');
      for (const [i, v] of Object.entries(over)) f[Number(i)] = v;
      return f.join(';');
    };
    const check = (text: string) => validateDevices(parseDevicesCsv(text)).filter((p) => p.severity === 'error').map((p) => p.message);
    assert.deepEqual(check(row({})), []);
    assert.match(check(row({ 1: 'pc_1' }))[0]!, /invalid hostname/);
    assert.match(check(row({ 2: 'gr p' }))[0]!, /invalid device group/);
    assert.match(check(row({ 3: 'AABBCCDDEE01' }))[0]!, /invalid MAC/);
    assert.match(check(row({ 3: 'AA:BB-CC:DD:EE:01' }))[0]!, /invalid MAC/);
    assert.match(check(row({ 4: '10.0.0' }))[0]!, /invalid IP/);
    assert.deepEqual(check(row({ 4: 'DHCP' })), []);
    assert.match(check(row({ 8: 'teacher' }))[0]!, /unknown sophomorix role/);
    assert.match(check(row({ 10: '' }))[0]!, /invalid pxe flag/);
    assert.deepEqual(check(row({ 10: 'ml' })), []);
    assert.match(check(row({ 0: 'room 1' }))[0]!, /invalid room/);
    assert.match(check(' # indented comment')[0]!, /comment does not start in the first column/);
    const dup = `${row({})}\n${row({ 1: 'PC1', 3: 'AA:BB:CC:DD:EE:02', 4: '10.0.0.2' })}\n${row({ 1: 'pc3', 3: 'aa-bb-cc-dd-ee-01', 4: '10.0.0.1' })}\n`;
    assert.deepEqual(check(dup), [
      "duplicate hostname 'PC1' (also on line 1)",
      'duplicate MAC AA:BB:CC:DD:EE:01 (also on line 1)',
      'duplicate IP 10.0.0.1 (also on line 1)',
    ]);
  });

  test('rows import-devices skips are warnings', () => {
    const w = validateDevices(parseDevicesCsv(';pc1;grp;AA:BB:CC:DD:EE:01;10.0.0.255;;;;;;1;;;;\n')).filter((p) => p.severity === 'warning');
    assert.equal(w.length, 2);
  });
});

describe('delta and merge (NOTES §4.4) with the labops fixes', () => {
  const deleted = new Set(['fgy-pc01']);

  test('master + delta + delete gives the merged sample, except that sgm-pc02 keeps its role (fix 1)', () => {
    const r = mergeDevices(parseDevicesCsv(MASTER), parseDevicesCsv(DELTA), deleted);
    const expected = MERGED.replace('sgm;sgm-pc02;bios_sata;BC:24:11:63:8E:40;10.0.0.102;;;;;;1;;;;;', 'sgm;sgm-pc02;bios_sata;BC:24:11:63:8E:40;10.0.0.102;;;;classroom-studentcomputer;;1;;;;;');
    assert.notEqual(expected, MERGED);
    assert.equal(serializeDevicesCsv(r.file), expected);
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(r.stats, { total_master_lines: 7, total_delta_lines: 3, total_merged_lines: 8, deleted_hosts: ['fgy-pc01'], batch_size: 1 });
  });

  test("with the worker's behaviour (no fixes) the merged sample is reproduced byte for byte", () => {
    const r = mergeDevices(parseDevicesCsv(MASTER), parseDevicesCsv(DELTA), deleted, { keepRoleWhenDeltaEmpty: false, dropConflicts: false });
    assert.equal(serializeDevicesCsv(r.file), MERGED);
  });

  test('untouched master lines stay byte-identical (CRLF, odd spacing)', () => {
    const master = 'r;keep;g;AA:BB:CC:DD:EE:01;10.0.0.1;  odd  ;;;;;1;;;;\r\n#c\r\nr;pc9;g;AA:BB:CC:DD:EE:09;10.0.0.9;;;;;;1;;;;\r\n';
    const delta = parseDevicesCsv(`${DELTA_HEADER}\nr;pc9;g2;AA:BB:CC:DD:EE:09;10.0.0.9;;;;;;1;;;;\n`);
    const out = serializeDevicesCsv(mergeDevices(parseDevicesCsv(master), delta, new Set()).file);
    assert.equal(out, 'r;keep;g;AA:BB:CC:DD:EE:01;10.0.0.1;  odd  ;;;;;1;;;;\r\n#c\r\nr;pc9;g2;AA:BB:CC:DD:EE:09;10.0.0.9;;;;;;1;;;;\r\n');
  });

  test('fix 2: a delta row with a duplicate MAC, IP or hostname is not written and is reported', () => {
    const master = parseDevicesCsv(MASTER);
    const delta = emptyDelta();
    applyDeltaJob(delta, { action: 'create', hostname: 'newpc', mac: '4f:55:ff:69:15:cc', ip: '10.0.0.50', room: 'lab' }, new Set());
    applyDeltaJob(delta, { action: 'create', hostname: 'newpc2', mac: 'AA:AA:AA:AA:AA:02', ip: '10.0.0.11', room: 'lab' }, new Set());
    applyDeltaJob(delta, { action: 'update', hostname: 'amo-pc04', mac: 'C4:C6:E6:D9:7B:95', ip: '10.0.0.122', room: 'amo' }, new Set());
    applyDeltaJob(delta, { action: 'create', hostname: 'okpc', mac: 'AA:AA:AA:AA:AA:03', ip: '10.0.0.60', room: 'lab' }, new Set());
    const r = mergeDevices(master, delta, new Set());
    assert.deepEqual(
      r.conflicts.map((c) => c.message),
      ['Conflict: Duplicate IP 10.0.0.122 with host amo-pc09', 'Conflict: Duplicate MAC 4F:55:FF:69:15:CC with host server', 'Conflict: Duplicate IP 10.0.0.11 with host server'],
    );
    const out = serializeDevicesCsv(r.file);
    assert.ok(!out.includes('newpc'));
    assert.match(out, /^amo;amo-pc04;win11_efi_nvme;C4:C6:E6:D9:7B:95;10\.0\.0\.113;/m, 'the conflicting update keeps the old master row');
    assert.match(out, /^lab;okpc;nopxe;AA:AA:AA:AA:AA:03;10\.0\.0\.60;;;;;;1;;;;;$/m);
    assert.deepEqual(r.changes.map((c) => [c.hostname, c.change]), [['okpc', 'appended']]);
    // the worker wrote them anyway
    const worker = serializeDevicesCsv(mergeDevices(master, delta, new Set(), { dropConflicts: false }).file);
    assert.ok(worker.includes('newpc'));
  });

  test("a rejected update keeps its old row, whose MAC and IP no other row may then take (the merged file validates)", () => {
    const master = parseDevicesCsv('r;pc1;g;AA:BB:CC:DD:EE:01;10.0.0.1;;;;;;1;;;;\nr;pc2;g;AA:BB:CC:DD:EE:02;10.0.0.2;;;;;;1;;;;\n');
    const delta = emptyDelta();
    // pc1 asks for pc2's MAC (rejected: pc1 keeps …:01), and a new pc9 asks for …:01 and pc1's IP
    applyDeltaJob(delta, { action: 'update', hostname: 'pc1', mac: 'AA:BB:CC:DD:EE:02', ip: '10.0.0.5', room: 'r', config: 'g' }, new Set());
    applyDeltaJob(delta, { action: 'create', hostname: 'pc9', mac: 'AA:BB:CC:DD:EE:01', ip: '10.0.0.9', room: 'r', config: 'g' }, new Set());
    applyDeltaJob(delta, { action: 'create', hostname: 'pc8', mac: 'AA:BB:CC:DD:EE:08', ip: '10.0.0.1', room: 'r', config: 'g' }, new Set());
    applyDeltaJob(delta, { action: 'create', hostname: 'pc7', mac: 'AA:BB:CC:DD:EE:07', ip: '10.0.0.5', room: 'r', config: 'g' }, new Set());
    const r = mergeDevices(master, delta, new Set());
    assert.deepEqual(
      r.conflicts.map((c) => c.message),
      ['Conflict: Duplicate MAC AA:BB:CC:DD:EE:02 with host pc2', 'Conflict: Duplicate MAC AA:BB:CC:DD:EE:01 with host pc1', 'Conflict: Duplicate IP 10.0.0.1 with host pc1'],
    );
    const out = serializeDevicesCsv(r.file);
    assert.deepEqual(validateDevices(parseDevicesCsv(out)).filter((p) => p.severity === 'error'), []);
    assert.match(out, /^r;pc1;g;AA:BB:CC:DD:EE:01;10\.0\.0\.1;/m);
    // pc7 takes 10.0.0.5, which pc1's rejected update would have had
    assert.match(out, /^r;pc7;g;AA:BB:CC:DD:EE:07;10\.0\.0\.5;/m);
    assert.deepEqual(r.changes.map((c) => [c.hostname, c.change]), [['pc7', 'appended']]);
  });

  test('a duplicate hostname (the master already has it twice) is a conflict', () => {
    const master = parseDevicesCsv('r;pc1;g;AA:BB:CC:DD:EE:01;10.0.0.1;;;;;;1;;;;\nr;PC1;g;AA:BB:CC:DD:EE:02;10.0.0.2;;;;;;1;;;;\n');
    const delta = emptyDelta();
    applyDeltaJob(delta, { action: 'update', hostname: 'pc1', mac: 'AA:BB:CC:DD:EE:03', ip: '10.0.0.3', room: 'r', config: 'g' }, new Set());
    const r = mergeDevices(master, delta, new Set());
    assert.ok(r.conflicts.some((c) => c.kind === 'hostname'));
  });

  test('delta jobs: create appends a 15-field row, update replaces it, rename and delete fill the deleted set', () => {
    const delta = emptyDelta();
    const del = new Set<string>();
    applyDeltaJob(delta, { action: 'create', hostname: 'pc01', mac: 'aa:bb:cc:dd:ee:ff', ip: '10.0.0.100', room: 'lab01', config: 'win11_efi_sata', pxe: 1 }, del);
    assert.equal(serializeDevicesCsv(delta), `${DELTA_HEADER}\nlab01;pc01;win11_efi_sata;AA:BB:CC:DD:EE:FF;10.0.0.100;;;;;;1;;;;\n`);
    applyDeltaJob(delta, { action: 'update', hostname: 'PC01', mac: 'aa:bb:cc:dd:ee:ff', room: 'lab01', pxe: 0 }, del);
    assert.equal(serializeDevicesCsv(delta), `${DELTA_HEADER}\nlab01;PC01;nopxe;AA:BB:CC:DD:EE:FF;DHCP;;;;;;0;;;;\n`);
    applyDeltaJob(delta, { action: 'update', hostname: 'pc02', oldHostname: 'pc01', mac: 'aa:bb:cc:dd:ee:ff', room: 'lab01' }, del);
    assert.deepEqual([...del], ['pc01']);
    applyDeltaJob(delta, { action: 'delete', hostname: 'pc02' }, del);
    assert.equal(serializeDevicesCsv(delta), `${DELTA_HEADER}\n`);
    assert.deepEqual([...del].sort(), ['pc01', 'pc02']);
  });

  test('deleting a manual host removes it from the master; appended rows are padded to the master width', () => {
    const r = mergeDevices(parseDevicesCsv(MASTER), emptyDelta(), new Set(['amo-pc02']));
    assert.ok(!serializeDevicesCsv(r.file).includes('amo-pc02'));
    const d = emptyDelta();
    applyDeltaJob(d, { action: 'create', hostname: 'x1', mac: '00:00:00:00:00:01', room: 'r' }, new Set());
    const out = serializeDevicesCsv(mergeDevices(parseDevicesCsv('r;a;g;00:00:00:00:00:02;DHCP;;;;;;1;;;;;;;;\n'), d, new Set()).file);
    assert.equal(out.trim().split('\n')[1]!.split(';').length, 19);
  });
});

describe('school paths and names (fix 3)', () => {
  test('non-default schools: <school>.devices.csv and <school>-<host>', () => {
    assert.equal(devicesCsvPath('default-school'), '/etc/linuxmuster/sophomorix/default-school/devices.csv');
    assert.equal(devicesCsvPath('schoolb'), '/etc/linuxmuster/sophomorix/schoolb/schoolb.devices.csv');
    assert.equal(fixMasterPath('/etc/linuxmuster/sophomorix/schoolb/devices.csv', 'schoolb'), '/etc/linuxmuster/sophomorix/schoolb/schoolb.devices.csv');
    assert.equal(fixMasterPath('/srv/x/devices.csv', 'schoolb'), '/srv/x/devices.csv');
    assert.equal(qualifiedHostname('default-school', 'pc01'), 'pc01');
    assert.equal(qualifiedHostname('schoolb', 'pc01'), 'schoolb-pc01');
  });
});

describe('the hook\'s PXE host selection (NOTES §6.4)', () => {
  // The selection reads the text with indexOf; this is the same rule over parseDevicesCsv's rows.
  function byRows(text: string) {
    const hosts: string[] = [];
    const shortRows: { line: number; fields: number }[] = [];
    for (const l of parseDevicesCsv(text).lines) {
      if (l.kind !== 'row') continue;
      if (l.fields.length < 11) {
        shortRows.push({ line: l.lineNo, fields: l.fields.length });
        continue;
      }
      const [name, pxe] = [l.fields[1]!, l.fields[10]!];
      if (/^[a-zA-Z0-9][a-zA-Z0-9-]*$/.test(name) && /^\d+$/.test(pxe) && Number(pxe) >= 1 && !hosts.includes(name.toLowerCase())) hosts.push(name.toLowerCase());
    }
    return { hosts, shortRows };
  }

  test('the sample delta: its PXE hosts in order; a short row is reported with its line and field count', () => {
    const sel = selectPxeHosts(DELTA);
    assert.ok(sel.hosts.length > 0);
    assert.deepEqual(sel, byRows(DELTA));
    assert.deepEqual(selectPxeHosts('# c\nr;PC1;g;m;i;;;;;;1;;;;\r\nr;pc1;g;m;i;;;;;;2\n r;pc2;g;m;i;;;;;;0\nr;pc3;g;m;i;;;;;;x\nr;pc4;g;m\n\u00a0# nbsp comment\nr;pc5;g;m;i;;;;;;01;\nr;pc6;g;m;i;;;;;;1\r\n'), {
      hosts: ['pc1', 'pc5', 'pc6'],
      shortRows: [{ line: 6, fields: 4 }],
    });
  });

  test('agrees with the row model on every sample and on 2,000 generated files', () => {
    for (const name of ['devices.csv.sample', 'linbo-docker.devices.csv.sample', 'devices.merged.csv.sample', 'devices.malformed.csv.sample', 'sophomorix-testdata.devices.csv.sample']) {
      assert.deepEqual(selectPxeHosts(fixture(name)), byRows(fixture(name)), name);
    }
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), (seed >>> 16) % n);
    const pieces = [';', ';', ';', ';', 'pc1', 'PC2', 'a-b', '-x', '1', '0', '02', ' ', '#', '\r', '\n', '\n', '\r\n', '\t', '\u00a0', '\ufeff', 'é', 'lab;pc9;g;m;i;;;;;;1;;;;'];
    for (let k = 0; k < 2000; k++) {
      let text = '';
      const n = rnd(60);
      for (let i = 0; i < n; i++) text += pieces[rnd(pieces.length)];
      assert.deepEqual(selectPxeHosts(text), byRows(text), JSON.stringify(text));
    }
  });

  test('3,000 generated row files: whatever the one-regex reader accepts, it reads like the line reader and the row model', () => {
    let seed = 13;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), (seed >>> 16) % n);
    const pick = (xs: string[], common: number) => (rnd(5) ? xs[rnd(common)]! : xs[rnd(xs.length)]!);
    const NAMES = ['pc1', 'PC1', 'a-b', 'x9', 'pc2', '', '-x', 'a_b', 'é', 'pc 3', 'pc1\r', '"pc4"'];
    const FLAGS = ['1', '2', '0', '', '01', '10', '00', 'x', '1\r', ' 1', '1 ', '99999999999999999999', '1\rx', '\u0661'];
    const LINES = ['', '# comment', '#', '\r', ' # indented', '\u00a0# nbsp', '  ', '\t', 'short;row', ';;;', 'r;pc5;g;m;i;;;;;1'];
    const ENDS = ['\n', '\n', '\r\n', ''];
    let accepted = 0;
    for (let k = 0; k < 3000; k++) {
      let text = '';
      for (let l = rnd(8); l > 0; l--) {
        if (rnd(4) === 0) text += pick(LINES, 4);
        else {
          const fields = ['lab', pick(NAMES, 5), 'g', 'aa:bb', '10.0.0.1', '', '', '', '', '', pick(FLAGS, 4)];
          for (let x = rnd(3) ? 0 : rnd(5); x > 0; x--) fields.push(rnd(2) ? '' : 'y\r');
          text += (rnd(20) ? '' : pick([' ', ';', '#', '\u00e9'], 4)) + fields.join(';');
        }
        text += ENDS[rnd(ENDS.length)]!;
      }
      const lines = selectByLines(text);
      assert.deepEqual(lines, byRows(text), JSON.stringify(text));
      assert.deepEqual(selectPxeHosts(text), lines, JSON.stringify(text));
      const plain = selectFromPlainRows(text);
      if (plain === undefined) continue;
      accepted++;
      assert.deepEqual(plain, lines, JSON.stringify(text));
    }
    // both readers are exercised: most files are plain rows, the odd ones fall back
    assert.ok(accepted > 500 && accepted < 2800, `accepted ${accepted}`);
    assert.ok(selectFromPlainRows(fixture('linbo-docker.devices.csv.sample')), 'the sample delta takes the one-regex reader');
  });
});
