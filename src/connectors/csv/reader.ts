import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
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
 * Streams the records of one file. Decoding: UTF-8 by csv-parse itself (BOM stripped), other encodings
 * through iconv-lite. `hash`, when given, receives the file's bytes as they are read.
 */
export async function* readRecords(
  file: FeedFile,
  settings: CsvSettings,
  hash?: Hash,
  connector = '',
): AsyncGenerator<RawRecord> {
  const parser = parse({
    delimiter: settings.delimiter,
    quote: settings.quote === false ? null : settings.quote,
    escape: settings.escape ?? (settings.quote === false ? null : settings.quote),
    bom: true,
    // checked per record by the caller, so that one short row is an error for that row, not for the file
    relax_column_count: true,
    // a quote inside an unquoted field (O"Brien) is a character, not a syntax error
    relax_quotes: true,
    trim: settings.trim,
  });
  const stages: NodeJS.ReadWriteStream[] = [];
  if (hash) stages.push(hashTap(hash));
  if (settings.encoding !== 'utf-8') stages.push(iconv.decodeStream(settings.encoding));
  const streams = [createReadStream(file.path, { highWaterMark: 256 * 1024 }), ...stages, parser];
  const done = pipeline(streams as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  // the iteration below reports the error; this keeps an early return from leaving a rejection unhandled
  done.catch(() => {});
  let line = 1;
  try {
    for await (const fields of parser as AsyncIterable<string[]>) {
      const start = line;
      line += 1 + lineBreaks(fields);
      if (fields.length === 1 && fields[0] === '') continue; // an empty line
      yield { fields, line: start };
    }
    await done;
  } catch (err) {
    throw parseError(err, file, connector);
  } finally {
    // an early return (the consumer stopped) must not leave the file open
    parser.destroy();
  }
}

/**
 * Line numbers are counted here rather than taken from csv-parse's `info` option: building that object for
 * every record costs a fifth of the parse, and csv-parse counts a CRLF inside a quoted field as two lines.
 * Empty lines reach this counter as records of one empty field (skip_empty_lines is off for that reason).
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

/**
 * A syntax error (a quote never closed, garbage after a closing quote) leaves the parser unsure where the
 * next record starts: everything after it is suspect, so the whole import fails rather than guess.
 */
function parseError(err: unknown, file: FeedFile, connector: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as Error & { code?: string; lines?: number };
  if (e.code === 'ENOENT') {
    return new ConnectorError(
      'CSV_FILE_MISSING',
      `${file.path} does not exist`,
      { connector, location: file.display },
      true,
    );
  }
  if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
    const location = e.lines ? `${file.display}:${e.lines}` : file.display;
    return new ConnectorError(
      'CSV_SYNTAX',
      `the file cannot be read past this point: ${e.message}`,
      { connector, location },
      false,
      {
        cause: err,
      },
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

function hashTap(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

export function newFeedHash(): Hash {
  return createHash('sha256');
}
