import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import iconv from 'iconv-lite';
import Papa from 'papaparse';
import { ConnectorError } from '../../core/errors.js';
import type { CsvSettings } from './settings.js';

/** One data file of the feed and how to name it in messages. */
export interface FeedFile {
  path: string;
  /** the path relative to the config folder when inside it, for `file.csv:LINE` locations */
  display: string;
}

/** A record as the parser returned it, with the line it starts on. */
export interface RawRecord {
  fields: string[];
  line: number;
}

/** The files of the feed: the file itself, or the folder's *.csv files in name order. */
export async function feedFiles(path: string, configDir: string, connector: string): Promise<FeedFile[]> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      throw new ConnectorError(
        'CSV_FILE_MISSING',
        `${path} does not exist`,
        { connector, location: path },
        true,
      );
    }
    throw new ConnectorError(
      'CSV_FILE_UNREADABLE',
      `cannot read ${path}: ${err.message}`,
      { connector, location: path },
      true,
      {
        cause: err,
      },
    );
  });
  if (!info.isDirectory()) return [{ path, display: displayPath(path, configDir) }];
  const names = (await readdir(path, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith('.csv'))
    .map((entry) => entry.name)
    .sort();
  if (names.length === 0) {
    // An empty drop folder is a failed transfer far more often than a company without people.
    throw new ConnectorError(
      'CSV_FILE_MISSING',
      `${path} holds no .csv file`,
      { connector, location: path },
      true,
    );
  }
  return names.map((name) => ({ path: join(path, name), display: displayPath(join(path, name), configDir) }));
}

function displayPath(path: string, configDir: string): string {
  const rel = relative(configDir, path);
  return rel.startsWith(`..${sep}`) || rel === '..' || rel === '' ? path : rel;
}

/**
 * Streams the records of one file, a batch per chunk read (an async step per record would cost more than
 * parsing it). Bytes are decoded by iconv-lite (which drops a BOM) and cut into records by papaparse's core
 * parser. `hash`, when given, receives the file's bytes as they are read.
 */
export async function* readRecordBatches(
  file: FeedFile,
  settings: CsvSettings,
  hash?: Hash,
  connector = '',
): AsyncGenerator<RawRecord[]> {
  const stream = createReadStream(file.path, { highWaterMark: CHUNK_BYTES });
  const decoder = iconv.getDecoder(settings.encoding);
  const splitter = new RecordSplitter(settings, file, connector);
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      hash?.update(bytes);
      const batch = splitter.push(decoder.write(bytes), false);
      if (batch.length > 0) yield batch;
    }
    const batch = splitter.push(decoder.end() ?? '', true);
    if (batch.length > 0) yield batch;
  } catch (err) {
    throw readError(err, file, connector);
  } finally {
    // an early return (the consumer stopped) must not leave the file open
    stream.destroy();
  }
}

/** Bytes read at a time (exported for tests that put a chunk boundary at a chosen place). */
export const CHUNK_BYTES = 256 * 1024;

/**
 * A record still open after this many characters is taken for a quote that is never closed: without the
 * limit such a quote would make the rest of the file one field, held in memory.
 */
export const MAX_RECORD_CHARS = 8_000_000;

type LineBreak = '\n' | '\r\n' | '\r';

/** What Papa.Parser#parse returns for arrays of fields (its type says `any`). */
interface ParsedChunk {
  data: string[][];
  errors: Papa.ParseError[];
  meta: { cursor: number };
}

/**
 * Cuts decoded text into records. papaparse's Node stream (Papa.NODE_STREAM_INPUT) hands on rows but drops
 * the parser's quote errors, and a lost quote error is a silently mis-split feed; so the core parser is fed
 * here: each chunk is parsed without its last, possibly cut, record, which is carried into the next chunk.
 */
class RecordSplitter {
  private parser: Papa.Parser | undefined;
  private newline: LineBreak = '\n';
  private carried = '';
  private line = 1;

  constructor(
    private readonly settings: CsvSettings,
    private readonly file: FeedFile,
    private readonly connector: string,
  ) {}

  /** The records that `text` completes (all that are left when `last`). */
  push(text: string, last: boolean): RawRecord[] {
    const input = this.carried + text;
    this.parser ??= this.newParser(input, last);
    if (!this.parser) {
      this.carry(input);
      return [];
    }
    const { data: rows, errors, meta } = this.parser.parse(input, 0, !last) as ParsedChunk;
    const broken = firstQuoteError(errors, rows.length, last);
    const consumed = last ? input.length : meta.cursor;
    // every record but a last one at the end of the file ends with a line break
    const breaksInFields = lineBreaksBefore(
      input,
      consumed,
      this.newline,
      last ? rows.length - 1 : rows.length,
    );
    const trim = this.settings.trim;
    const records: RawRecord[] = [];
    for (let i = 0; i < rows.length; i++) {
      const fields = rows[i]!;
      const start = this.line;
      if (broken && broken.row === i) throw this.syntaxError(broken.error, start);
      this.line += breaksInFields ? 1 + lineBreaks(fields) : 1;
      if (fields.length === 1 && fields[0] === '') continue; // an empty line
      if (trim) for (let f = 0; f < fields.length; f++) fields[f] = fields[f]!.trim();
      records.push({ fields, line: start });
    }
    if (broken) throw this.syntaxError(broken.error, this.line);
    this.carry(last ? '' : input.slice(consumed));
    return records;
  }

  /** A parser once the line break is known (the first one outside quotes), or undefined until then. */
  private newParser(input: string, last: boolean): Papa.Parser | undefined {
    const { delimiter, quote } = this.settings;
    const quoteChar = quote === false ? '"' : quote;
    const escapeChar = this.settings.escape ?? quoteChar;
    const newline =
      lineBreakOf(input, delimiter, quote === false ? undefined : quoteChar, escapeChar) ??
      (last ? '\n' : undefined);
    if (newline === undefined) return undefined;
    this.newline = newline;
    return new Papa.Parser({
      delimiter,
      newline,
      quoteChar,
      escapeChar,
      // fast mode splits on delimiters and line breaks only: what "never quoted" means
      fastMode: quote === false ? true : undefined,
    });
  }

  private carry(rest: string): void {
    if (rest.length > MAX_RECORD_CHARS) {
      throw this.syntaxError(
        `a record runs past ${MAX_RECORD_CHARS.toLocaleString('en')} characters (a quote never closed?)`,
        this.line,
      );
    }
    this.carried = rest;
  }

  /**
   * A quote error leaves the parser unsure where the next record starts: everything after it is suspect, so
   * the whole import fails rather than guess.
   */
  private syntaxError(problem: string, line: number): ConnectorError {
    return new ConnectorError(
      'CSV_SYNTAX',
      `the file cannot be read past this point: ${problem}`,
      { connector: this.connector, location: `${this.file.display}:${line}` },
      false,
    );
  }
}

/**
 * The first quote error in a parsed chunk, with the row it belongs to. Before the last chunk, an error on the
 * record cut by the chunk's end is ignored: `"Smith"` then a chunk boundary before `\r\n` looks like text
 * after a closing quote, and that record is parsed again, whole, with the next chunk.
 */
function firstQuoteError(
  errors: Papa.ParseError[],
  rows: number,
  last: boolean,
): { row: number; error: string } | undefined {
  for (const error of errors) {
    const row = error.row ?? rows;
    if (error.type !== 'Quotes' || (!last && row >= rows)) continue;
    const text =
      error.code === 'MissingQuotes'
        ? 'a quote opened in this record is never closed'
        : 'text follows the closing quote of a field in this record';
    return { row, error: text };
  }
  return undefined;
}

/**
 * The feed's line break: the first CR LF, LF or CR outside a quoted field. Undefined when the text holds
 * none yet (or ends on a CR that may be half of a CR LF).
 */
function lineBreakOf(
  text: string,
  delimiter: string,
  quoteChar: string | undefined,
  escapeChar: string,
): LineBreak | undefined {
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (fieldStart && quoteChar !== undefined && c === quoteChar) {
      i = closingQuote(text, i + 1, quoteChar, escapeChar);
      if (i < 0) return undefined;
      fieldStart = false;
      continue;
    }
    if (c === '\n') return '\n';
    if (c === '\r') {
      if (i + 1 === text.length) return undefined;
      return text[i + 1] === '\n' ? '\r\n' : '\r';
    }
    fieldStart = text.startsWith(delimiter, i);
    if (fieldStart) i += delimiter.length - 1;
  }
  return undefined;
}

/**
 * The index of the quote closing a field whose text starts at `from`, or -1 when the text ends first. The
 * same rules as the parser's: a doubled quote, or a quote right after a distinct escape character, is text.
 */
function closingQuote(text: string, from: number, quoteChar: string, escapeChar: string): number {
  for (let i = text.indexOf(quoteChar, from); i !== -1; i = text.indexOf(quoteChar, i + 1)) {
    if (escapeChar !== quoteChar) {
      if (text[i - 1] !== escapeChar) return i;
    } else if (i + 1 === text.length) {
      return -1; // perhaps the first half of a doubled quote
    } else if (text[i + 1] === quoteChar) {
      i++;
    } else {
      return i;
    }
  }
  return -1;
}

/**
 * Whether some field of the records in `text[0, end)` holds a line break: true unless the text has exactly
 * one line break per record end. Checking a chunk at once spares a look into each of its fields.
 */
function lineBreaksBefore(text: string, end: number, newline: LineBreak, recordEnds: number): boolean {
  const lf = newline === '\r' ? 0 : recordEnds;
  const cr = newline === '\n' ? 0 : recordEnds;
  return countBefore(text, '\n', end) !== lf || countBefore(text, '\r', end) !== cr;
}

function countBefore(text: string, char: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf(char); i !== -1 && i < end; i = text.indexOf(char, i + 1)) count++;
  return count;
}

/**
 * Line numbers are counted here, from the line breaks inside each record's fields (a CR LF is one line, as
 * an editor shows it), rather than from parser positions that chunking makes relative.
 * Empty lines reach this counter as records of one empty field, so they are counted too.
 */
function lineBreaks(fields: string[]): number {
  let breaks = 0;
  for (const field of fields) {
    if (field.length === 0 || (!field.includes('\n') && !field.includes('\r'))) continue;
    for (let i = 0; i < field.length; i++) {
      const c = field.charCodeAt(i);
      if (c === 10 || (c === 13 && field.charCodeAt(i + 1) !== 10)) breaks++;
    }
  }
  return breaks;
}

function readError(err: unknown, file: FeedFile, connector: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') {
    return new ConnectorError(
      'CSV_FILE_MISSING',
      `${file.path} does not exist`,
      { connector, location: file.display },
      true,
    );
  }
  return new ConnectorError(
    'CSV_FILE_UNREADABLE',
    `cannot read ${file.display}: ${e.message}`,
    { connector, location: file.display },
    true,
    {
      cause: err,
    },
  );
}

export function newFileHash(): Hash {
  return createHash('sha256');
}

/** A file of the feed and the SHA-256 (hex) of its bytes. */
export interface FileDigest {
  display: string;
  sha256: string;
}

/** The SHA-256 of one file's bytes, read as a stream (nothing parsed). */
export async function hashFile(file: FeedFile, connector = ''): Promise<string> {
  const hash = newFileHash();
  try {
    for await (const bytes of createReadStream(file.path, { highWaterMark: CHUNK_BYTES })) hash.update(bytes);
  } catch (err) {
    throw readError(err, file, connector);
  }
  return hash.digest('hex');
}

/**
 * Change it whenever the same bytes would be read into other records (another parser, other defaults): the
 * watermarks an older reader made then stop matching, and the next import parses the feed again.
 */
const READER_VERSION = 'papaparse-1';

/**
 * The feed's watermark: a SHA-256 over the reader's version, the settings and, in reading order, each
 * file's name and the SHA-256 of its bytes. That is everything that decides the records, so two equal
 * watermarks mean two equal imports.
 */
export function feedWatermark(settings: CsvSettings, files: FileDigest[]): string {
  const basis = JSON.stringify([READER_VERSION, settings, files.map((file) => [file.display, file.sha256])]);
  return `sha256:${createHash('sha256').update(basis).digest('hex')}`;
}
