/** The pure parts: timestamps and zones, named parameters, watermark windows and log gaps, value conversion. */
import { describe, expect, it } from 'vitest';
import { parseNamedStatement } from '../../../src/connectors/sql/statements.js';
import { formatIso, formatNaive, parseTimestamp } from '../../../src/connectors/sql/time.js';
import { decodeAnchor, decodeColumn, encodeAnchor, encodeParam } from '../../../src/connectors/sql/values.js';
import {
  expireGaps,
  type LogState,
  observeLogIds,
  SeenWindow,
  type WindowState,
} from '../../../src/connectors/sql/watermark.js';

const ctx = { driver: 'mysql' as const, naiveZone: 'UTC' };

describe('timestamps', () => {
  it('reads naive, offset and ISO forms to UTC, keeping microseconds', () => {
    expect(formatIso(parseTimestamp('2024-01-02 03:04:05.123456', 'UTC')!)).toBe(
      '2024-01-02T03:04:05.123456Z',
    );
    expect(formatIso(parseTimestamp('2024-01-02 05:04:05+02', 'UTC')!)).toBe('2024-01-02T03:04:05.000Z');
    expect(formatIso(parseTimestamp('2024-01-02T03:04:05.5-05:30', 'UTC')!)).toBe('2024-01-02T08:34:05.500Z');
    expect(parseTimestamp('infinity', 'UTC')).toBeUndefined();
  });

  it('reads and writes naive timestamps in a configured zone, across daylight saving time', () => {
    // Paris: UTC+1 in winter, UTC+2 in summer
    expect(formatIso(parseTimestamp('2024-01-15 12:00:00', 'Europe/Paris')!)).toBe(
      '2024-01-15T11:00:00.000Z',
    );
    expect(formatIso(parseTimestamp('2024-07-15 12:00:00', 'Europe/Paris')!)).toBe(
      '2024-07-15T10:00:00.000Z',
    );
    expect(formatNaive(parseTimestamp('2024-07-15T10:00:00Z', 'UTC')!, 'Europe/Paris')).toBe(
      '2024-07-15 12:00:00',
    );
    expect(formatNaive(parseTimestamp('2024-07-15T10:00:00.000250Z', 'UTC')!, '+02:00')).toBe(
      '2024-07-15 12:00:00.000250',
    );
    expect(
      encodeParam('2024-01-15T11:00:00.000Z', 'timestamp', { driver: 'postgres', naiveZone: 'Europe/Paris' }),
    ).toBe('2024-01-15 12:00:00');
  });
});

describe('values', () => {
  it('keeps integers beyond 2^53 and long decimals as text, and NULL as no value', () => {
    expect(decodeColumn('9007199254740993', 'integer', ctx)).toEqual(['9007199254740993']);
    expect(decodeColumn(9007199254740991n, 'integer', ctx)).toEqual([9007199254740991]);
    expect(decodeColumn('12.50', 'decimal', ctx)).toEqual([12.5]);
    expect(decodeColumn('12345678901234567.89', 'decimal', ctx)).toEqual(['12345678901234567.89']);
    expect(decodeColumn(null, 'string', ctx)).toEqual([]);
    expect(decodeColumn(1, 'boolean', ctx)).toEqual([true]);
    expect(() => decodeColumn('maybe', 'boolean', ctx)).toThrow(/not a boolean/);
  });

  it('encodes composite anchors stably and decodes them back', () => {
    const anchor = encodeAnchor([10, 'E"1', new Uint8Array([1, 255])])!;
    expect(anchor).toBe('["10","E\\"1","01ff"]');
    expect(decodeAnchor(anchor, 3)).toEqual(['10', 'E"1', '01ff']);
    expect(encodeAnchor([5])).toBe('5');
    expect(() => decodeAnchor('["1"]', 2)).toThrow(/2 columns/);
  });
});

describe('named parameters', () => {
  it('binds :names outside quotes, comments, dollar quotes and casts', () => {
    const pg = parseNamedStatement(
      'SELECT :a::int, \':b\', "x:c", $q$ :d $q$ -- :e\n, :f.g /* :h */ FROM t WHERE x = :a',
      'postgres',
    );
    expect(pg.names).toEqual(['a', 'f.g', 'a']);
    expect(pg.sql).toBe('SELECT $1::int, \':b\', "x:c", $q$ :d $q$ -- :e\n, $2 /* :h */ FROM t WHERE x = $3');
    const my = parseNamedStatement("CALL p(:x, 'it\\'s :y', `:z`)", 'mysql');
    expect(my.names).toEqual(['x']);
    expect(my.sql).toBe("CALL p(?, 'it\\'s :y', `:z`)");
  });
});

describe('watermark windows', () => {
  it('keeps fingerprints inside the overlap only, and raises the top', () => {
    const state: WindowState = { w: null, seen: {} };
    const window = new SeenWindow(state, 'integer', 10);
    for (const [value, print] of [
      ['5', 'a'],
      ['20', 'b'],
      ['12', 'c'],
    ] as const) {
      window.observe(value, print);
      window.add(value, print);
    }
    window.commit();
    expect(state.w).toBe('20');
    expect(state.seen).toEqual({ '12': ['c'], '20': ['b'] });
    expect(new SeenWindow(state, 'integer', 10).has('12', 'c')).toBe(true);
  });

  it('on a timestamp column, re-reads the last overlap of the clock, or only what follows once the top is settled', () => {
    const state: WindowState = { w: '2024-01-01T12:00:00.000Z', t: '2024-01-01T12:01:00.000Z', seen: {} };
    const window = new SeenWindow(state, 'timestamp', 300);
    // the top is younger than clock − overlap: transactions may still commit below it
    expect(window.bound()).toEqual({ value: '2024-01-01T11:56:00.000Z', strict: false });
    window.add('2024-01-01T11:00:00.000Z', 'old');
    window.add('2024-01-01T12:00:00.000Z', 'new');
    // a quiet table: an hour later the top is settled, and only rows after it are read
    window.start('2024-01-01T13:00:00.000Z');
    window.observe('2024-01-01T12:00:00.000Z', '42');
    expect(window.bound()).toEqual({ value: '2024-01-01T12:00:00.000Z', strict: true, after: '42' });
    window.commit();
    expect(state.seen).toEqual({});
  });

  it('tracks log ids not yet seen as gaps until they fill or time out', () => {
    const state: LogState = { h: 3, gaps: [] };
    observeLogIds(state, [4, 7, 8, 12], 1000);
    expect(state.h).toBe(12);
    expect(state.gaps).toEqual([
      [5, 6, 1000],
      [9, 11, 1000],
    ]);
    observeLogIds(state, [5, 10, 13], 2000);
    expect(state.gaps).toEqual([
      [6, 6, 1000],
      [9, 9, 1000],
      [11, 11, 1000],
    ]);
    expireGaps(state, 1000 + 600_000, 600);
    expect(state.gaps.length).toBe(3);
    expireGaps(state, 1001 + 600_000, 600);
    expect(state.gaps).toEqual([]);
  });
});
