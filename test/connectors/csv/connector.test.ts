import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectorObject, ImportChange, ImportPage } from '../../../src/connectors/contract.js';
import { csvConnectorFactory } from '../../../src/connectors/csv/index.js';
import { ConnectorError } from '../../../src/core/errors.js';

const log = { debug() {}, info() {}, warn() {} };
let configDir: string;

beforeEach(() => {
  configDir = mkdtempSync(join(tmpdir(), 'idsync-csv-'));
});

afterEach(() => {
  rmSync(configDir, { recursive: true, force: true });
});

function connector(settings: Record<string, unknown>) {
  return csvConnectorFactory.create('hr', csvConnectorFactory.settings.parse(settings), {
    configDir,
    stateDir: configDir,
    log,
  });
}

async function importPages(
  settings: Record<string, unknown>,
  pageSize = 1000,
  watermark: string | null = null,
): Promise<ImportPage[]> {
  const pages: ImportPage[] = [];
  for await (const page of connector(settings).import({ mode: 'full', watermark, pageSize }))
    pages.push(page);
  return pages;
}

function lastWatermark(pages: ImportPage[]): string {
  return pages[pages.length - 1]!.watermark!;
}

async function importChanges(settings: Record<string, unknown>): Promise<ImportChange[]> {
  return (await importPages(settings)).flatMap((p) => p.changes);
}

function objects(changes: ImportChange[]): ConnectorObject[] {
  return changes
    .filter((c) => c.kind === 'upsert')
    .map((c) => (c as Extract<ImportChange, { kind: 'upsert' }>).object);
}

function errors(changes: ImportChange[]) {
  return changes.filter((c) => c.kind === 'error');
}

describe('csv connector: reading', () => {
  it('reads a header, renames columns, keeps the anchor column as an attribute', async () => {
    writeFileSync(join(configDir, 'hr.csv'), 'employeeId,first,last\nE1,Ada,Lovelace\nE2,Alan,Turing\n');
    const changes = await importChanges({
      path: 'hr.csv',
      anchor: 'employeeId',
      columns: { first: 'givenName', last: 'sn' },
    });
    expect(objects(changes)).toEqual([
      {
        anchor: 'E1',
        objectType: 'person',
        attributes: { employeeId: ['E1'], givenName: ['Ada'], sn: ['Lovelace'] },
      },
      {
        anchor: 'E2',
        objectType: 'person',
        attributes: { employeeId: ['E2'], givenName: ['Alan'], sn: ['Turing'] },
      },
    ]);
  });

  it('handles quoting, embedded delimiters, quotes and newlines, another delimiter and empty cells', async () => {
    writeFileSync(
      join(configDir, 'q.csv'),
      'id;name;note\n1;"Doe; John";"said ""hi""\nthen left"\n2;O"Brien;\n3;  padded  ;""\n',
    );
    const list = objects(
      await importChanges({ path: 'q.csv', anchor: 'id', delimiter: ';', objectType: 'employee' }),
    );
    expect(list.map((o) => o.attributes)).toEqual([
      { id: ['1'], name: ['Doe; John'], note: ['said "hi"\nthen left'] },
      { id: ['2'], name: ['O"Brien'] },
      { id: ['3'], name: ['padded'] },
    ]);
    expect(list[0]!.objectType).toBe('employee');
  });

  it('splits multi-valued columns, types values and turns reference columns into { ref }', async () => {
    writeFileSync(
      join(configDir, 't.csv'),
      [
        'id,groups,phones,age,active,start,manager',
        'E1,a;b; ;c,+1 555|+1 556,42,Yes,2024-02-29,',
        'E2,,,-3.5e1,0,2024-03-01T08:30:00+02:00,E1',
        'E3,,,7,no,2024-03-01T08:30Z,E1',
      ].join('\n'),
    );
    const list = objects(
      await importChanges({
        path: 't.csv',
        anchor: 'id',
        multiValued: { groups: true, phones: '|' },
        types: { age: 'number', active: 'boolean', start: 'date' },
        references: { manager: true },
      }),
    );
    expect(list.map((o) => o.attributes)).toEqual([
      {
        id: ['E1'],
        groups: ['a', 'b', 'c'],
        phones: ['+1 555', '+1 556'],
        age: [42],
        active: [true],
        start: ['2024-02-29T00:00:00.000Z'],
      },
      {
        id: ['E2'],
        age: [-35],
        active: [false],
        start: ['2024-03-01T06:30:00.000Z'],
        manager: [{ ref: 'E1' }],
      },
      {
        id: ['E3'],
        age: [7],
        active: [false],
        start: ['2024-03-01T08:30:00.000Z'],
        manager: [{ ref: 'E1' }],
      },
    ]);
  });

  it('joins several anchor columns', async () => {
    writeFileSync(join(configDir, 'c.csv'), 'company,number,name\nACME,1,Wile\nACME,2,Road\nOTHER,1,Bugs\n');
    const list = objects(
      await importChanges({ path: 'c.csv', anchor: ['company', 'number'], anchorSeparator: '/' }),
    );
    expect(list.map((o) => o.anchor)).toEqual(['ACME/1', 'ACME/2', 'OTHER/1']);
  });

  it('reads files without a header with columnNames, and overrides a header with them', async () => {
    writeFileSync(join(configDir, 'n.csv'), 'E1,Ada\nE2,Alan\n');
    expect(
      objects(
        await importChanges({ path: 'n.csv', anchor: 'id', header: false, columnNames: ['id', 'name'] }),
      ).map((o) => o.anchor),
    ).toEqual(['E1', 'E2']);
    writeFileSync(join(configDir, 'h.csv'), 'A,B\nE1,Ada\n');
    expect(
      objects(await importChanges({ path: 'h.csv', anchor: 'id', columnNames: ['id', 'name'] }))[0]!
        .attributes,
    ).toEqual({
      id: ['E1'],
      name: ['Ada'],
    });
    expect(() => csvConnectorFactory.settings.parse({ path: 'x.csv', anchor: 'id', header: false })).toThrow(
      /columnNames/,
    );
  });

  it('refuses a delimiter the parser cannot use', () => {
    const parse = (settings: Record<string, unknown>) =>
      csvConnectorFactory.settings.parse({ path: 'x.csv', anchor: 'id', ...settings });
    for (const settings of [
      { delimiter: '"' },
      { delimiter: '"', quote: false },
      { delimiter: '\n' },
      { delimiter: ';\r\n' },
      { delimiter: "'", quote: "'" },
    ]) {
      expect(() => parse(settings), JSON.stringify(settings)).toThrow(/delimiter cannot contain/);
    }
    expect(parse({ delimiter: "'" })).toMatchObject({ delimiter: "'" });
    expect(parse({ delimiter: '||', quote: false })).toMatchObject({ delimiter: '||' });
  });

  it('decodes latin1 and windows-1252, UTF-16LE, and strips a UTF-8 BOM', async () => {
    const text = 'id,name\n1,Müller\n2,Ñoño €\n';
    writeFileSync(join(configDir, 'latin1.csv'), iconv.encode('id,name\n1,Müller\n2,Ñoño\n', 'latin1'));
    writeFileSync(join(configDir, 'cp.csv'), iconv.encode(text, 'windows-1252'));
    writeFileSync(join(configDir, 'utf16.csv'), iconv.encode(text, 'utf-16le', { addBOM: true }));
    writeFileSync(
      join(configDir, 'bom.csv'),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]),
    );
    const names = async (path: string, encoding?: string) =>
      objects(await importChanges({ path, anchor: 'id', ...(encoding && { encoding }) })).map(
        (o) => o.attributes.name![0],
      );
    expect(await names('latin1.csv', 'latin1')).toEqual(['Müller', 'Ñoño']);
    expect(await names('cp.csv', 'Windows-1252')).toEqual(['Müller', 'Ñoño €']);
    expect(await names('utf16.csv', 'utf-16le')).toEqual(['Müller', 'Ñoño €']);
    // without BOM stripping the first column would be "\uFEFFid" and the anchor column would be missing
    expect(await names('bom.csv')).toEqual(['Müller', 'Ñoño €']);
  });

  it('flags a latin1 file read as UTF-8 instead of importing garbled names', async () => {
    writeFileSync(join(configDir, 'wrong.csv'), iconv.encode('id,name\n1,Müller\n2,Smith\n', 'latin1'));
    const changes = await importChanges({ path: 'wrong.csv', anchor: 'id' });
    expect(errors(changes)).toEqual([
      {
        kind: 'error',
        anchor: '1',
        location: 'wrong.csv:2',
        code: 'CSV_INVALID_ENCODING',
        message: expect.stringContaining('name'),
      },
    ]);
    expect(objects(changes).map((o) => o.anchor)).toEqual(['2']);
  });

  it('reads a folder of .csv files in name order, ignoring other files', async () => {
    mkdirSync(join(configDir, 'feed'));
    writeFileSync(join(configDir, 'feed', 'b.csv'), 'id,name\n3,C\n');
    writeFileSync(join(configDir, 'feed', 'a.CSV'), 'id,name\n1,A\n2,B\n');
    writeFileSync(join(configDir, 'feed', 'notes.txt'), 'not a feed');
    const changes = await importChanges({ path: 'feed', anchor: 'id' });
    expect(objects(changes).map((o) => o.anchor)).toEqual(['1', '2', '3']);
  });
});

describe('csv connector: bad rows and files', () => {
  it('turns bad rows into errors with file:line and imports the rest', async () => {
    writeFileSync(
      join(configDir, 'bad.csv'),
      [
        'id,name,age,start,active', // 1
        '1,Ann,30,2020-01-01,yes', // 2
        '2,Ben,thirty,2020-01-01,yes', // 3: bad number
        '3,"Cy', // 4: a quoted newline...
        'Jr",31,2020-02-30,yes', // 5: ...and a date that does not exist
        '', // 6: empty line, skipped
        '4,Dee,33', // 7: too few fields
        ',Eve,34,2020-01-01,no', // 8: no anchor
        '1,Ann again,35,2020-01-01,no', // 9: duplicate anchor
        '5,Fay,36,2020-01-01,maybe', // 10: bad boolean
        ',,,,', // 11: only delimiters, skipped
        '6,Gus,37,2020-01-01,1', // 12
      ].join('\r\n'),
    );
    const changes = await importChanges({
      path: 'bad.csv',
      anchor: 'id',
      types: { age: 'number', start: 'date', active: 'boolean' },
    });
    // anchor 1 is on lines 2 and 9: neither row is an object
    expect(objects(changes).map((o) => o.anchor)).toEqual(['6']);
    expect(errors(changes).map((e) => [e.location, e.code, (e as { anchor?: string }).anchor])).toEqual([
      ['bad.csv:2', 'CSV_DUPLICATE_ANCHOR', '1'],
      ['bad.csv:3', 'CSV_INVALID_NUMBER', '2'],
      ['bad.csv:4', 'CSV_INVALID_DATE', '3'],
      ['bad.csv:7', 'CSV_COLUMN_COUNT', '4'],
      ['bad.csv:8', 'CSV_ANCHOR_MISSING', undefined],
      ['bad.csv:9', 'CSV_DUPLICATE_ANCHOR', '1'],
      ['bad.csv:10', 'CSV_INVALID_BOOLEAN', '5'],
    ]);
    const number = errors(changes)[1] as { message: string };
    expect(number.message).toBe('column age: "thirty" is not a number');
    expect((errors(changes)[0] as { message: string }).message).toContain('also on bad.csv:9');
    expect((errors(changes)[5] as { message: string }).message).toContain('already on bad.csv:2');
  });

  it('never shows the value of a secret column in an error', async () => {
    writeFileSync(join(configDir, 's.csv'), 'id,pin\n1,12ab\n');
    const changes = await importChanges({
      path: 's.csv',
      anchor: 'id',
      types: { pin: 'number' },
      secret: ['pin'],
    });
    const error = errors(changes)[0] as { message: string };
    expect(error.message).not.toContain('12ab');
    expect(error.message).toContain('pin');
  });

  it('fails the import with CSV_FILE_MISSING for a missing file, folder or empty folder', async () => {
    await expect(importPages({ path: 'nope.csv', anchor: 'id' })).rejects.toMatchObject({
      code: 'CSV_FILE_MISSING',
      message: expect.stringContaining('nope.csv'),
    });
    mkdirSync(join(configDir, 'empty'));
    await expect(importPages({ path: 'empty', anchor: 'id' })).rejects.toMatchObject({
      code: 'CSV_FILE_MISSING',
    });
    await expect(importPages({ path: 'empty', anchor: 'id' })).rejects.toBeInstanceOf(ConnectorError);
  });

  it('fails the import when the header lacks a configured column or the file is empty', async () => {
    writeFileSync(join(configDir, 'h.csv'), 'id,name\n1,A\n');
    await expect(importPages({ path: 'h.csv', anchor: 'employeeId' })).rejects.toMatchObject({
      code: 'CSV_HEADER_INVALID',
      place: { location: 'h.csv:1' },
    });
    await expect(
      importPages({ path: 'h.csv', anchor: 'id', types: { age: 'number' } }),
    ).rejects.toMatchObject({
      code: 'CSV_HEADER_INVALID',
      message: expect.stringContaining('age'),
    });
    writeFileSync(join(configDir, 'empty.csv'), '');
    await expect(importPages({ path: 'empty.csv', anchor: 'id' })).rejects.toMatchObject({
      code: 'CSV_HEADER_MISSING',
    });
  });

  it('fails the import when two columns would become the same attribute', async () => {
    writeFileSync(join(configDir, 'r.csv'), 'id,mail,email\n1,a,b\n');
    await expect(
      importPages({ path: 'r.csv', anchor: 'id', columns: { mail: 'email' } }),
    ).rejects.toMatchObject({
      code: 'CSV_HEADER_INVALID',
      message: expect.stringContaining('both become attribute email'),
    });
  });

  it('reports both rows of a duplicate anchor across the files of a folder, each naming the other, and applies neither', async () => {
    mkdirSync(join(configDir, 'feed'));
    writeFileSync(join(configDir, 'feed', 'a.csv'), 'id,name\n1,A\n2,B\n');
    writeFileSync(join(configDir, 'feed', 'b.csv'), 'id,name\n3,C\n\n2,B again\n');
    const changes = await importChanges({ path: 'feed', anchor: 'id' });
    // neither row of anchor 2 is applied: the earlier one may be the bogus one
    expect(objects(changes).map((o) => o.anchor)).toEqual(['1', '3']);
    expect(errors(changes)).toEqual([
      {
        kind: 'error',
        anchor: '2',
        location: join('feed', 'a.csv') + ':3',
        code: 'CSV_DUPLICATE_ANCHOR',
        message: `anchor 2 is also on ${join('feed', 'b.csv')}:4: no row of it is applied until only one is left`,
      },
      {
        kind: 'error',
        anchor: '2',
        location: join('feed', 'b.csv') + ':4',
        code: 'CSV_DUPLICATE_ANCHOR',
        message: `anchor 2 already on ${join('feed', 'a.csv')}:3: no row of it is applied until only one is left`,
      },
    ]);
  });

  it('fails the import at a quote that is never closed rather than guess where rows start', async () => {
    writeFileSync(join(configDir, 'q.csv'), 'id,name\n1,A\n2,"B\n3,C\n');
    await expect(importPages({ path: 'q.csv', anchor: 'id' })).rejects.toMatchObject({ code: 'CSV_SYNTAX' });
  });
});

describe('csv connector: streaming', () => {
  it('yields pages of pageSize with the content hash as the last watermark', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `E${i},Name ${i},${i % 7 === 0 ? 'yes' : 'no'}`);
    writeFileSync(join(configDir, 'big.csv'), `id,name,flag\n${rows.join('\n')}\n`);
    const pages = await importPages({ path: 'big.csv', anchor: 'id', types: { flag: 'boolean' } }, 3000);
    expect(pages.map((p) => p.changes.length)).toEqual([3000, 3000, 3000, 3000, 3000, 3000, 2000]);
    expect(pages.slice(0, -1).every((p) => p.watermark === undefined)).toBe(true);
    const list = objects(pages.flatMap((p) => p.changes));
    expect(list).toHaveLength(20_000);
    expect(list[19_999]).toEqual({
      anchor: 'E19999',
      objectType: 'person',
      attributes: { id: ['E19999'], name: ['Name 19999'], flag: [true] },
    });
    const watermark = pages[pages.length - 1]!.watermark!;
    expect(watermark).toMatch(/^sha256:[0-9a-f]{64}$/);
    // same bytes, same watermark; one byte changed, another
    const again = await importPages({ path: 'big.csv', anchor: 'id', types: { flag: 'boolean' } }, 3000);
    expect(again[again.length - 1]!.watermark).toBe(watermark);
    writeFileSync(
      join(configDir, 'big.csv'),
      `id,name,flag\n${rows.join('\n').replace('Name 5,', 'Name 6,')}\n`,
    );
    const changed = await importPages({ path: 'big.csv', anchor: 'id', types: { flag: 'boolean' } }, 3000);
    expect(changed[changed.length - 1]!.watermark).not.toBe(watermark);
  });

  it('stops reading when the consumer stops (the file is not read to the end)', async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => `E${i},x`);
    writeFileSync(join(configDir, 'stop.csv'), `id,name\n${rows.join('\n')}\n`);
    let seen = 0;
    for await (const page of connector({ path: 'stop.csv', anchor: 'id' }).import({
      mode: 'full',
      watermark: null,
      pageSize: 100,
    })) {
      seen += page.changes.length;
      if (seen >= 200) break;
    }
    expect(seen).toBe(200);
    // the file can be replaced right away (no handle left open on platforms that care)
    rmSync(join(configDir, 'stop.csv'));
  });
});

describe('csv connector: resuming a full import', () => {
  const settings = { path: 'feed', anchor: 'id' };
  const writeFeed = (rows: (i: number) => string) => {
    mkdirSync(join(configDir, 'feed'), { recursive: true });
    // two files: a position names the file and the line in it
    writeFileSync(join(configDir, 'feed', 'a.csv'), `id,name\n${Array.from({ length: 250 }, (_, i) => rows(i)).join('\n')}\n`);
    writeFileSync(join(configDir, 'feed', 'b.csv'), `id,name\n${Array.from({ length: 250 }, (_, i) => rows(250 + i)).join('\n')}\n`);
  };
  const anchors = (pages: ImportPage[]) => objects(pages.flatMap((p) => p.changes)).map((o) => o.anchor);
  const resumed = async (resume: string) => {
    const pages: ImportPage[] = [];
    for await (const page of connector(settings).import({ mode: 'full', watermark: null, pageSize: 100, resume })) pages.push(page);
    return pages;
  };

  it('gives a position with each page and goes on after it, in the same file or the next, with the same last watermark', async () => {
    writeFeed((i) => `E${i},Name ${i}`);
    const whole = await importPages(settings, 100);
    expect(whole.slice(0, -1).every((p) => typeof p.resume === 'string')).toBe(true);
    const all = anchors(whole);
    expect(all).toHaveLength(500);
    // after page 2 (ending inside a.csv) and after page 3 (ending inside b.csv)
    for (const k of [2, 3]) {
      const rest = await resumed(whole[k - 1]!.resume!);
      expect(anchors(rest)).toEqual(all.slice(k * 100));
      expect(rest.at(-1)!.watermark).toBe(whole.at(-1)!.watermark);
    }
  });

  it('reads from the first row when the feed changed since the position was given, or the position is not its own', async () => {
    writeFeed((i) => `E${i},Name ${i}`);
    const whole = await importPages(settings, 100);
    writeFeed((i) => `E${i},Renamed ${i}`);
    const rest = await resumed(whole[1]!.resume!);
    expect(anchors(rest)).toEqual(anchors(whole));
    expect(objects(rest.flatMap((p) => p.changes))[0]!.attributes.name).toEqual(['Renamed 0']);
    expect(anchors(await resumed('not a position'))).toHaveLength(500);
  });
});

describe('csv connector: unchanged feed', () => {
  const settings = { path: 'hr.csv', anchor: 'id' };

  it('answers one unchanged page when the feed hashes to the watermark, and parses once a byte changed', async () => {
    writeFileSync(join(configDir, 'hr.csv'), 'id,name\n1,Ada\n2,Alan\n');
    const first = await importPages(settings);
    const watermark = lastWatermark(first);
    expect(objects(first.flatMap((p) => p.changes))).toHaveLength(2);
    expect(first.some((p) => p.unchanged)).toBe(false);

    expect(await importPages(settings, 1000, watermark)).toEqual([
      { changes: [], watermark, unchanged: true },
    ]);

    // same length, one byte different: the row that did not change is vouched for, not converted again
    writeFileSync(join(configDir, 'hr.csv'), 'id,name\n1,Ada\n2,Alam\n');
    const changed = await importPages(settings, 1000, watermark);
    expect(changed.some((p) => p.unchanged)).toBe(false);
    expect(changed.flatMap((p) => p.changes)).toEqual([
      { kind: 'same', anchor: '1' },
      { kind: 'upsert', object: { anchor: '2', objectType: 'person', attributes: { id: ['2'], name: ['Alam'] } } },
    ]);
    const next = lastWatermark(changed);
    expect(next).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(next).not.toBe(watermark);
    expect(await importPages(settings, 1000, next)).toEqual([
      { changes: [], watermark: next, unchanged: true },
    ]);
  });

  it('always parses without a watermark, and gives the watermark a parse of the same feed gives', async () => {
    writeFileSync(join(configDir, 'hr.csv'), 'id,name\n1,Ada\n');
    const watermark = lastWatermark(await importPages(settings));
    const again = await importPages(settings);
    expect(again).toEqual([
      {
        changes: [
          {
            kind: 'upsert',
            object: { anchor: '1', objectType: 'person', attributes: { id: ['1'], name: ['Ada'] } },
          },
        ],
        watermark,
      },
    ]);
  });

  it('parses again when the settings, a file name or the set of files changed, bytes unchanged', async () => {
    mkdirSync(join(configDir, 'feed'));
    writeFileSync(join(configDir, 'feed', 'a.csv'), 'id,age\n1,30\n');
    writeFileSync(join(configDir, 'feed', 'b.csv'), 'id,age\n2,40\n');
    const feed = { path: 'feed', anchor: 'id' };
    const watermark = lastWatermark(await importPages(feed));
    expect((await importPages(feed, 1000, watermark))[0]!.unchanged).toBe(true);

    // another type for a column: the same bytes read into other values
    const typed = await importPages({ ...feed, types: { age: 'number' } }, 1000, watermark);
    expect(typed.some((p) => p.unchanged)).toBe(false);
    expect(objects(typed.flatMap((p) => p.changes)).map((o) => o.attributes.age)).toEqual([[30], [40]]);

    // the same bytes under another name: parsed, and each row vouched for (the objects are as they were)
    renameSync(join(configDir, 'feed', 'b.csv'), join(configDir, 'feed', 'c.csv'));
    const renamed = await importPages(feed, 1000, watermark);
    expect(renamed.some((p) => p.unchanged)).toBe(false);
    expect(renamed.flatMap((p) => p.changes)).toEqual([
      { kind: 'same', anchor: '1' },
      { kind: 'same', anchor: '2' },
    ]);

    // one file more, the others as they were
    const before = lastWatermark(renamed);
    writeFileSync(join(configDir, 'feed', 'd.csv'), 'id,age\n');
    const more = await importPages(feed, 1000, before);
    expect(more.some((p) => p.unchanged)).toBe(false);
    expect(lastWatermark(more)).not.toBe(before);
  });
});

describe('csv connector: row digests', () => {
  const settings = { path: 'hr.csv', anchor: 'id' };
  const changesOf = async (watermark: string | null) => {
    const pages = await importPages(settings, 1000, watermark);
    return { changes: pages.flatMap((p) => p.changes), watermark: lastWatermark(pages) };
  };
  /** writes the feed, then imports it given `watermark` */
  const feed = (content: string, watermark: string | null) => {
    writeFileSync(join(configDir, 'hr.csv'), content);
    return changesOf(watermark);
  };
  const digestFiles = () => readdirSync(join(configDir, 'csv', 'hr')).sort();

  it('vouches for unchanged rows, gives changed and new rows whole and leaves out removed ones', async () => {
    const first = await feed('id,name\n1,Ada\n2,Alan\n3,Grace\n', null);
    expect(objects(first.changes)).toHaveLength(3);

    const second = await feed('id,name\n2,Alan Turing\n1,Ada\n4,Edsger\n', first.watermark);
    expect(second.changes).toEqual([
      { kind: 'upsert', object: { anchor: '2', objectType: 'person', attributes: { id: ['2'], name: ['Alan Turing'] } } },
      { kind: 'same', anchor: '1' },
      { kind: 'upsert', object: { anchor: '4', objectType: 'person', attributes: { id: ['4'], name: ['Edsger'] } } },
    ]);
    // without a watermark (a real full import) every row is given whole
    expect(objects((await changesOf(null)).changes)).toHaveLength(3);
  });

  it('reads again a row that was an error, and every row when the digests are gone', async () => {
    const first = await feed('id,name\n1,Ada\n2,Alan,extra\n', null);
    expect(errors(first.changes)).toHaveLength(1);

    const second = await feed('id,name\n1,Ada\n2,Alan,extra\n3,Grace\n', first.watermark);
    expect(second.changes.map((c) => c.kind)).toEqual(['same', 'error', 'upsert']);

    rmSync(join(configDir, 'csv'), { recursive: true });
    expect((await feed('id,name\n1,Ada\n3,Grace\n', second.watermark)).changes.map((c) => c.kind)).toEqual(['upsert', 'upsert']);
  });

  it('vouches for nothing when the columns were reordered, though every value is the same', async () => {
    const first = await feed('id,name\n1,Ada\n', null);
    expect((await feed('name,id\nAda,1\n', first.watermark)).changes.map((c) => c.kind)).toEqual(['upsert']);
  });

  it('keeps the digests of the newest import and of the one it was given, none older', async () => {
    const first = await feed('id,name\n1,Ada\n', null);
    const second = await feed('id,name\n1,Ada\n2,Alan\n', first.watermark);
    const third = await feed('id,name\n1,Ada\n2,Alan\n3,Grace\n', second.watermark);
    const name = (w: string) => `${w.slice('sha256:'.length)}.rows`;
    expect(digestFiles()).toEqual([name(second.watermark), name(third.watermark)].sort());
    expect(third.changes.map((c) => c.kind)).toEqual(['same', 'same', 'upsert']);
  });
});

describe('csv connector: schema and test', () => {
  it('describes the attributes from the header and the settings', async () => {
    writeFileSync(join(configDir, 's.csv'), 'id,first,groups,age,manager,pin\n');
    const c = connector({
      path: 's.csv',
      anchor: 'id',
      columns: { first: 'givenName' },
      multiValued: { groups: ',' },
      types: { age: 'number' },
      references: { manager: true },
      secret: ['pin'],
    });
    await c.test();
    expect(await c.schema()).toEqual({
      objectTypes: {
        person: {
          attributes: {
            id: { type: 'string', multiValued: false },
            givenName: { type: 'string', multiValued: false },
            groups: { type: 'string', multiValued: true },
            age: { type: 'number', multiValued: false },
            manager: { type: 'reference', multiValued: false },
            pin: { type: 'string', multiValued: false, secret: true },
          },
        },
      },
    });
    expect(c.capabilities).toMatchObject({ deltaImport: false, export: false });
  });
});

describe('csv connector: read', () => {
  it('reads one row by its anchor as the feed has it now; null when no row has it; a duplicated anchor is an error with its rows', async () => {
    writeFileSync(join(configDir, 'hr.csv'), 'id,name,title\n1,Ann,Clerk\n2,Bob,Chief\n');
    const settings = { path: 'hr.csv', objectType: 'person', anchor: 'id' };
    const c = connector(settings);
    expect(await c.read!('person', '2')).toEqual({ anchor: '2', objectType: 'person', attributes: { id: ['2'], name: ['Bob'], title: ['Chief'] } });
    writeFileSync(join(configDir, 'hr.csv'), 'id,name,title\n1,Ann,Clerk\n2,Bob,Head\n');
    const again = await c.read!('person', '2');
    expect(again?.attributes.title).toEqual(['Head']);
    expect(objects(await importChanges(settings)).find((o) => o.anchor === '2')).toEqual(again);
    expect(await c.read!('person', '3')).toBeNull();
    expect(await c.read!('group', '2')).toBeNull();
    writeFileSync(join(configDir, 'hr.csv'), 'id,name,title\n1,Ann,Clerk\n2,Bob,Head\n2,Rob,Head\n');
    await expect(c.read!('person', '2')).rejects.toMatchObject({ code: 'CSV_DUPLICATE_ANCHOR', message: expect.stringContaining('hr.csv:4') });
  });
});
