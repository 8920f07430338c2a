import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHUNK_BYTES,
  MAX_RECORD_CHARS,
  type RawRecord,
  readRecordBatches,
} from '../../../src/connectors/csv/reader.js';
import { csvSettings } from '../../../src/connectors/csv/settings.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'idsync-csv-reader-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function read(text: string | Buffer, settings: Record<string, unknown> = {}): Promise<RawRecord[]> {
  const path = join(dir, 'f.csv');
  writeFileSync(path, text);
  const records: RawRecord[] = [];
  const parsed = csvSettings.parse({ path, anchor: 'id', ...settings });
  for await (const batch of readRecordBatches({ path, display: 'f.csv' }, parsed, undefined, 'hr')) {
    records.push(...batch);
  }
  return records;
}

/** The line (1-based) on which `needle` starts in `text`, counting CR LF, LF and lone CR as one break each. */
function lineOf(text: string, needle: string): number {
  const before = text.slice(0, text.indexOf(needle));
  return 1 + (before.match(/\r\n|\n|\r/g)?.length ?? 0);
}

/** Rows of filler so that the text reaches exactly `length` characters (ASCII: characters are bytes). */
function fillTo(text: string, length: number, newline: string): string {
  let out = text;
  let i = 0;
  while (length - out.length > 200) out += `F${i++},${'x'.repeat(80)}${newline}`;
  const last = `F${i},`;
  return out + last + 'x'.repeat(length - out.length - last.length - newline.length) + newline;
}

describe('csv reader: chunks', () => {
  it('reads a record cut at any place by a chunk boundary, with exact line numbers after it', async () => {
    // a quoted field with an escaped quote, a delimiter and a CR LF inside, followed by CR LF: every cut
    // through it (between the quotes of "", between " and CR, between CR and LF) must read the same
    const special = 'S1,"Doe, ""J""\r\nsecond line"\r\n';
    const after = 'A1,after\r\nA2,too,many\r\n';
    for (let cut = 1; cut < special.length; cut++) {
      const text = fillTo('id,note\r\n', CHUNK_BYTES - cut, '\r\n') + special + after;
      const records = await read(text);
      const s1 = records.find((r) => r.fields[0] === 'S1');
      expect(s1, `cut ${cut}`).toEqual({
        fields: ['S1', 'Doe, "J"\r\nsecond line'],
        line: lineOf(text, 'S1,'),
      });
      const tail = records.slice(-2);
      expect(tail, `cut ${cut}`).toEqual([
        { fields: ['A1', 'after'], line: lineOf(text, 'A1,') },
        { fields: ['A2', 'too', 'many'], line: lineOf(text, 'A2,') },
      ]);
      expect(records.every((r) => r.fields.length === 2 || r.fields[0] === 'A2')).toBe(true);
    }
  });

  it('counts lines over many chunks with multi-line fields and a line break type found after quotes', async () => {
    // the header's first field is quoted and holds a CR: the feed's line break is the LF after it
    const rows = ['"i\rd",note'];
    for (let i = 0; i < 40_000; i++) rows.push(i % 100 === 0 ? `R${i},"two\nlines"` : `R${i},plain ${i}`);
    const text = `${rows.join('\n')}\n`;
    expect(text.length).toBeGreaterThan(2 * CHUNK_BYTES);
    const records = await read(text, { anchor: 'i\rd' });
    expect(records).toHaveLength(40_001);
    expect(records[0]).toEqual({ fields: ['i\rd', 'note'], line: 1 });
    for (const i of [0, 1, 99, 100, 101, 12_345, 29_900, 39_999]) {
      expect(records[i + 1]).toEqual({
        fields: [`R${i}`, i % 100 === 0 ? 'two\nlines' : `plain ${i}`],
        line: lineOf(text, `R${i},`),
      });
    }
  });

  it('reads CR-only line breaks and skips empty lines while counting them', async () => {
    const records = await read('id,name\r1,A\r\r2,"B\rC"\r3,D\r');
    expect(records).toEqual([
      { fields: ['id', 'name'], line: 1 },
      { fields: ['1', 'A'], line: 2 },
      { fields: ['2', 'B\rC'], line: 4 },
      { fields: ['3', 'D'], line: 6 },
    ]);
  });

  it('trims values unless told not to', async () => {
    expect((await read('id, name \n 1 ,  A  \n'))[1]).toEqual({ fields: ['1', 'A'], line: 2 });
    expect((await read('id,name\n 1 , A \n', { trim: false }))[1]).toEqual({
      fields: [' 1 ', ' A '],
      line: 2,
    });
  });
});

describe('csv reader: quoting', () => {
  it('takes quotes literally with quote: false', async () => {
    expect((await read('id,name\n1,"Ann\n', { quote: false }))[1]!.fields).toEqual(['1', '"Ann']);
  });

  it('opens a quoted field only at its first character (RFC 4180)', async () => {
    // a space before the quote: not quoted, so the comma splits it and the row has a field too many
    expect((await read('id,name\n1, "Doe, John"\n2,"Ann" ,x\n')).slice(1)).toEqual([
      { fields: ['1', '"Doe', 'John"'], line: 2 },
      { fields: ['2', 'Ann', 'x'], line: 3 },
    ]);
  });

  it('reads an escape character other than the quote', async () => {
    const records = await read('id,name\n1,"say \\"hi\\", then go"\n2,B\n', { escape: '\\' });
    expect(records.slice(1)).toEqual([
      { fields: ['1', 'say "hi", then go'], line: 2 },
      { fields: ['2', 'B'], line: 3 },
    ]);
  });

  it('fails at the line where a never-closed quote opens', async () => {
    await expect(read('id,name\n1,A\n2,"B\n3,C\n4,D\n')).rejects.toMatchObject({
      code: 'CSV_SYNTAX',
      place: { connector: 'hr', location: 'f.csv:3' },
      message: expect.stringContaining('never closed'),
    });
  });

  it('fails at the line of a field with text after its closing quote, even in a later chunk', async () => {
    const text = `${fillTo('id,name\n', CHUNK_BYTES + 1000, '\n')}B1,"Smith" Jr\nB2,ok\n`;
    await expect(read(text)).rejects.toMatchObject({
      code: 'CSV_SYNTAX',
      place: { location: `f.csv:${lineOf(text, 'B1,')}` },
      message: expect.stringContaining('closing quote'),
    });
  });

  it('gives up on a record that runs past the size limit instead of holding the rest of the file', async () => {
    const rows = ['id,name', '1,"never closed'];
    const row = `${'y'.repeat(99)}\n`;
    const text = rows.join('\n') + '\n' + row.repeat(Math.ceil(MAX_RECORD_CHARS / row.length) + 10_000);
    await expect(read(text)).rejects.toMatchObject({
      code: 'CSV_SYNTAX',
      place: { location: 'f.csv:2' },
      message: expect.stringContaining(`past ${MAX_RECORD_CHARS.toLocaleString('en')} characters`),
    });
  });
});
