// LS_ToJson's quirks, IniWrite's semantics and the simulated clocks, each on its own.
import { describe, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { toStationJson, IniDocument, typeIniValue, ManualClock, ScaledClock, encodeStationJson } from '../../src/sim/labstation/index.js';

describe('toStationJson (Lab Station 3.2.0)', () => {
  test('keys sorted, compact, integers 0 and 1 written as false and true, other numbers as numbers', () => {
    assert.equal(toStationJson({ b: 1, a: 0, c: 2, d: -1, e: true, f: false }), '{"a":false,"b":true,"c":2,"d":-1,"e":true,"f":false}');
  });

  test('an empty object is written as [], an empty array too; nested arrays stay arrays', () => {
    assert.equal(toStationJson({ lastHealth: {}, list: [], xs: [{}, [1, 'x']] }), '{"lastHealth":[],"list":[],"xs":[[],[true,"x"]]}');
  });

  test('strings: only \\\\ \\" \\b \\f \\n \\r \\t escaped; other control characters, non-ASCII and / pass raw; "1" stays a string; "null" becomes null', () => {
    assert.equal(toStationJson({ p: 'C:\\Users\\LABUSER', q: 'say "hi"\r\n\t', c: '\u0001', u: 'Größe/ñ', one: '1', n: 'null' }), '{"c":"\u0001","n":null,"one":"1","p":"C:\\\\Users\\\\LABUSER","q":"say \\"hi\\"\\r\\n\\t","u":"Größe/ñ"}');
  });

  test('ordinal key order (upper case before lower case), as AHK Maps enumerate', () => {
    assert.equal(toStationJson({ b: 'x', B: 'x', a: 'x', _: 'x' }), '{"B":"x","_":"x","a":"x","b":"x"}');
  });

  test('heartbeat bytes: UTF-8 BOM, one line, no trailing newline', () => {
    const b = encodeStationJson({ a: 'é' });
    assert.deepEqual([...b], [0xef, 0xbb, 0xbf, ...Buffer.from('{"a":"é"}')]);
  });
});

describe("toStationJson ('nov-2025', invalid JSON)", () => {
  test('single backslashes and newlines raw, arrays as {"1":…}, "1"/"0" as booleans', () => {
    const text = toStationJson({ p: 'C:\\Users\\LABUSER', r: 'a\r\nb', xs: ['x', 'y'], e: [], id: '1', z: '0', d: 'a\\\\b' }, 'nov-2025');
    assert.equal(text, '{"d":"a\\\\\\\\b","e":[],"id":true,"p":"C:\\Users\\LABUSER","r":"a\r\nb","xs":{"1":"x","2":"y"},"z":false}');
    assert.throws(() => JSON.parse(text));
  });
});

describe('IniDocument (IniWrite semantics)', () => {
  test('sorted keys on first write, updates in place, new keys appended, stale keys survive; UTF-16LE BOM CRLF, booleans 1/0', () => {
    const ini = new IniDocument();
    ini.writeSection('power-action', { success: true, mode: 'shutdown', delay: 0, force: false });
    ini.writeSection('power-action', { success: false, mode: 'hibernate', reason: 'night' });
    assert.equal(ini.toText(), '[power-action]\r\ndelay=0\r\nforce=0\r\nmode=hibernate\r\nsuccess=0\r\nreason=night\r\n');
    const bytes = ini.encode();
    assert.deepEqual([...bytes.subarray(0, 4)], [0xff, 0xfe, 0x5b, 0x00]);
    assert.equal(bytes.subarray(2).toString('utf16le'), ini.toText());
  });

  test('reading types values like the station: true/on/1, false/off/0, integers, strings', () => {
    assert.deepEqual(['1', 'on', 'TRUE', '0', 'off', 'false', '42', '-3', '3.5', '', 'x'].map(typeIniValue), [true, true, true, false, false, false, 42, -3, '3.5', '', 'x']);
  });
});

describe('simulated clocks', () => {
  test('ManualClock runs timers in order, including ones scheduled by timers, only when advanced', async () => {
    const c = new ManualClock(0);
    const seen: string[] = [];
    c.schedule(20, () => seen.push('b'));
    c.schedule(10, () => {
      seen.push('a');
      c.schedule(15, () => seen.push('a2'));
    });
    const t = c.schedule(30, () => seen.push('cancelled'));
    t.cancel();
    assert.deepEqual(seen, []);
    await c.advance(25);
    assert.deepEqual(seen, ['a', 'a2', 'b']);
    assert.equal(c.now(), 25);
  });

  test('ManualClock.sleep honours abort signals; drive() fails when nothing can settle the promise', async () => {
    const c = new ManualClock(0);
    const ac = new AbortController();
    const p = c.sleep(1000, ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
    await assert.rejects(c.drive(new Promise(() => {})), /no timer is scheduled/);
  });

  test('ScaledClock: at time scale 60 a 90 s grace takes 1.5 s of real time', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    try {
      const c = new ScaledClock(60);
      const start = c.now();
      let fired = false;
      c.schedule(start + 90_000, () => (fired = true));
      mock.timers.tick(1_499);
      assert.equal(fired, false);
      assert.equal(c.now(), start + 1_499 * 60);
      mock.timers.tick(1);
      assert.equal(fired, true);
    } finally {
      mock.timers.reset();
    }
  });

  test('ScaledClock rejects a non-positive time scale', () => {
    assert.throws(() => new ScaledClock(0), /positive/);
    assert.throws(() => new ScaledClock(Number.NaN), /positive/);
  });
});
