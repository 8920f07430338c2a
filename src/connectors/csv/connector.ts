import type { Hash } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { ConnectorError } from '../../core/errors.js';
import type { Attributes } from '../../core/values.js';
import type {
  AttributeSchema,
  Capabilities,
  Connector,
  ConnectorContext,
  ConnectorObject,
  ConnectorSchema,
  ImportChange,
  ImportPage,
  ImportRequest,
} from '../contract.js';
import { CellError, type ColumnPlan, convertCell } from './convert.js';
import {
  type FeedFile,
  type FileDigest,
  feedFiles,
  feedWatermark,
  hashFile,
  newFileHash,
  type RawRecord,
  readRecordBatches,
} from './reader.js';
import { headerKey, RowDigestList, RowDigestSet, rowDigest } from './rows.js';
import type { CsvSettings } from './settings.js';

/** The digests of the import that left the watermark given (if any), and those of this one. */
interface RowDigests {
  previous: RowDigestSet | undefined;
  next: RowDigestList;
}

/** How the records of one file become objects: decided from its header and the settings. */
interface FilePlan {
  file: FeedFile;
  fileIndex: number;
  columns: ColumnPlan[];
  anchorIndexes: number[];
  /** the header's part of each row's digest */
  header: string;
  /** the data records read along with the header */
  head: RawRecord[];
  /** the file's other records, a batch at a time */
  batches: AsyncGenerator<RawRecord[]>;
}

/**
 * An HR feed in CSV files: full import only (the engine compares with what it saw last time), no export.
 * Rows stream from the file; a bad row becomes an `error` change and the rest goes on; a missing file or an
 * unreadable header fails the import, so that the engine deletes nothing.
 */
export class CsvConnector implements Connector {
  readonly type = 'csv';
  readonly capabilities: Capabilities = { deltaImport: false, export: false, watch: false };
  private readonly path: string;

  constructor(
    readonly name: string,
    private readonly settings: CsvSettings,
    private readonly context: ConnectorContext,
  ) {
    this.path = isAbsolute(settings.path) ? settings.path : resolve(context.configDir, settings.path);
  }

  async test(): Promise<void> {
    for (const file of await this.files()) {
      const plan = await this.openFile(file);
      await plan.batches.return(undefined);
    }
  }

  /** No delta import: every import reads the feed, but skips it whole when its hash is the same, or row by row by digest. */
  deltaMethod(): string {
    return 'file hash and row digests';
  }

  async schema(): Promise<ConnectorSchema> {
    const attributes: Record<string, AttributeSchema> = {};
    for (const file of await this.files()) {
      const plan = await this.openFile(file);
      await plan.batches.return(undefined);
      for (const column of plan.columns) {
        attributes[column.attribute] = {
          type: column.reference ? 'reference' : column.type,
          multiValued: column.separator !== undefined,
          ...(column.secret && { secret: true }),
        };
      }
    }
    return { objectTypes: { [this.settings.objectType]: { attributes } } };
  }

  /**
   * Every row, page by page. The last page's watermark is a SHA-256 of the settings, the file names and the
   * files' bytes: it comes from the feed itself. Given that watermark back, and the feed hashes the same, the
   * import is one `unchanged` page and nothing is parsed.
   */
  async *import(request: ImportRequest): AsyncIterable<ImportPage> {
    if (request.mode === 'delta') this.context.log.debug('csv feeds have no delta: reading the whole feed');
    const files = await this.files();
    let current: string | undefined;
    if (request.watermark !== null) {
      current = await this.hashFeed(files);
      if (current === request.watermark) {
        // a full import proves the source unchanged; to a delta request (read as full) it means no change
        yield { changes: [], watermark: current, ...(request.mode === 'full' && { unchanged: true }) };
        return;
      }
    }
    const hashed: FileDigest[] = [];
    const duplicates = await this.duplicateAnchors(files);
    const digests: RowDigests = {
      // Only a full import given its watermark may answer `same`: one asked for a real full import (--full,
      // changed settings, an interrupted one) compares every row.
      previous: request.watermark !== null ? RowDigestSet.read(this.digestFolder, request.watermark) : undefined,
      next: new RowDigestList(),
    };
    // Each page says where the import can go on (resume): the feed's hash when the import began and the
    // last record the page holds. Given one back whose feed hashes the same now, the records up to it are
    // read (for the file hash and the row digests) but not sent again.
    const feed = current ?? (await this.hashFeed(files));
    const from = resumePosition(request.resume, feed);
    if (request.resume !== undefined && !from) this.context.log.info(`${this.name}: the feed changed since the import began elsewhere: reading it from the first row`);
    let changes: ImportChange[] = [];
    for (const [index, file] of files.entries()) {
      const hash = newFileHash();
      const plan = await this.openFile(file, hash, index);
      for await (const batch of prepend(plan.head, plan.batches)) {
        for (const record of batch) {
          const change = this.toChange(plan, record, duplicates, files, digests);
          if (change === undefined) continue;
          if (from && (index < from.file || (index === from.file && record.line <= from.line))) continue;
          changes.push(change);
          if (changes.length >= request.pageSize) {
            request.signal?.throwIfAborted();
            yield { changes, resume: JSON.stringify({ feed, file: index, line: record.line }) };
            changes = [];
          }
        }
      }
      hashed.push({ display: file.display, sha256: hash.digest('hex') });
    }
    // Hashed from the bytes just parsed, not taken from the check above: a file replaced in between must not
    // leave a watermark that matches other content than what was imported.
    const watermark = feedWatermark(this.settings, hashed);
    // Written before the watermark that names it is committed, so a committed watermark always has its file
    // (unless removed by hand: the next import then compares every row).
    digests.next.write(this.digestFolder, watermark, request.watermark);
    yield { changes, watermark };
  }

  /**
   * One row by its anchor, read from the feed as it is now (the whole feed is parsed: a CSV file has no
   * index, but nothing else is kept or compared). A row on which the anchor is more than once, or that cannot
   * be read, is an error naming its place, as in an import; null when no row has it.
   */
  async read(objectType: string, anchor: string): Promise<ConnectorObject | null> {
    if (objectType !== this.settings.objectType) return null;
    const files = await this.files();
    const found: { change: ImportChange; location: string }[] = [];
    const digests: RowDigests = { previous: undefined, next: new RowDigestList() };
    for (const [index, file] of files.entries()) {
      const plan = await this.openFile(file, undefined, index);
      for await (const batch of prepend(plan.head, plan.batches)) {
        for (const record of batch) {
          if (anchorOf(plan, record.fields, this.settings.anchorSeparator) !== anchor) continue;
          const change = this.toChange(plan, record, new Map(), files, digests);
          if (change) found.push({ change, location: `${file.display}:${record.line}` });
        }
      }
    }
    if (found.length === 0) return null;
    if (found.length > 1) {
      const where = found.map((f) => f.location).join(', ');
      throw new ConnectorError('CSV_DUPLICATE_ANCHOR', `anchor ${anchor} is on ${found.length} rows (${where}): no row of it is applied until only one is left`, this.place(found[0]!.location), false);
    }
    const { change, location } = found[0]!;
    if (change.kind === 'error') throw new ConnectorError(change.code, change.message, this.place(location), false);
    return change.kind === 'upsert' ? change.object : null;
  }

  /**
   * The anchors on more than one row, with every row they are on (file index × 2^32 + line). A row is reported
   * before the next is read, so a first pass over the anchors finds them: otherwise the earlier row (a bogus
   * one, as often as not) would be applied before its duplicate showed, and silently win over the real one.
   */
  private async duplicateAnchors(files: FeedFile[]): Promise<Map<string, number[]>> {
    // anchor -> where first seen: a number per row, not a string, at 1,000,000 rows
    const seen = new Map<string, number>();
    const duplicates = new Map<string, number[]>();
    for (const [index, file] of files.entries()) {
      const plan = await this.openFile(file, undefined, index);
      for await (const batch of prepend(plan.head, plan.batches)) {
        for (const { fields, line } of batch) {
          // rows toChange reports otherwise (empty, misshapen, no anchor) are no one's duplicate
          if (fields.length !== plan.columns.length) continue;
          const anchor = anchorOf(plan, fields, this.settings.anchorSeparator);
          if (anchor === undefined) continue;
          const here = index * 2 ** 32 + line;
          const first = seen.get(anchor);
          if (first === undefined) seen.set(anchor, here);
          else duplicates.set(anchor, [...(duplicates.get(anchor) ?? [first]), here]);
        }
      }
    }
    return duplicates;
  }

  /** The watermark the feed would get now, from its bytes alone (hashing costs a fraction of parsing). */
  private async hashFeed(files: FeedFile[]): Promise<string> {
    const hashed: FileDigest[] = [];
    for (const file of files) hashed.push({ display: file.display, sha256: await hashFile(file, this.name) });
    return feedWatermark(this.settings, hashed);
  }

  async close(): Promise<void> {}

  /** where the row digests of this connector's imports are kept (rows.ts) */
  private get digestFolder(): string {
    return join(this.context.stateDir, 'csv', encodeURIComponent(this.name));
  }

  private files(): Promise<FeedFile[]> {
    return feedFiles(this.path, this.context.configDir, this.name);
  }

  /** Reads the header (unless columnNames say what the columns are) and plans the columns. */
  private async openFile(file: FeedFile, hash?: Hash, fileIndex = 0): Promise<FilePlan> {
    const batches = readRecordBatches(file, this.settings, hash, this.name);
    let names = this.settings.columnNames;
    let headerLine = 0;
    let head: RawRecord[] = [];
    try {
      if (this.settings.header) {
        const header = await firstRecord(batches);
        if (header === undefined) {
          // not even a header: a truncated transfer, not a feed that lost everyone
          throw new ConnectorError(
            'CSV_HEADER_MISSING',
            'the file is empty (no header row)',
            this.place(file.display),
            false,
          );
        }
        headerLine = header.record.line;
        names ??= header.record.fields;
        head = header.rest;
      }
      const columns = this.planColumns(names!, `${file.display}:${headerLine || 1}`);
      const anchorIndexes = this.anchorColumns().map((name) => columns.find((c) => c.column === name)!.index);
      return { file, fileIndex, columns, anchorIndexes, header: headerKey(this.settings, names!), head, batches };
    } catch (err) {
      await batches.return(undefined);
      throw err;
    }
  }

  private planColumns(names: string[], location: string): ColumnPlan[] {
    const s = this.settings;
    const trimmed = names.map((name) => name.trim());
    const problems: string[] = [];
    const unique = new Set<string>();
    trimmed.forEach((name, i) => {
      if (name === '') problems.push(`column ${i + 1} has no name`);
      else if (unique.has(name)) problems.push(`column ${JSON.stringify(name)} appears twice`);
      unique.add(name);
    });
    // A column the settings name but the file lacks would silently empty that attribute for everyone.
    const named = new Set([
      ...this.anchorColumns(),
      ...Object.keys(s.columns),
      ...Object.keys(s.multiValued),
      ...Object.keys(s.types),
      ...Object.keys(s.references),
      ...s.secret,
    ]);
    for (const name of named) if (!unique.has(name)) problems.push(`no column ${JSON.stringify(name)}`);
    const attributeOf = new Map<string, string>();
    for (const column of unique) {
      const attribute = s.columns[column] ?? column;
      const other = attributeOf.get(attribute);
      if (other !== undefined) {
        problems.push(
          `columns ${JSON.stringify(other)} and ${JSON.stringify(column)} both become attribute ${attribute}`,
        );
      }
      attributeOf.set(attribute, column);
    }
    if (problems.length > 0) {
      throw new ConnectorError(
        'CSV_HEADER_INVALID',
        `header: ${problems.join('; ')}`,
        this.place(location),
        false,
      );
    }
    const secrets = new Set(s.secret);
    return trimmed.map((column, index) => {
      const separator = s.multiValued[column];
      return {
        index,
        column,
        attribute: s.columns[column] ?? column,
        type: s.types[column] ?? 'string',
        separator: separator === true ? ';' : separator,
        reference: s.references[column] === true,
        secret: secrets.has(column),
      };
    });
  }

  private anchorColumns(): string[] {
    return typeof this.settings.anchor === 'string' ? [this.settings.anchor] : this.settings.anchor;
  }

  /** One record to one change: an upsert, an error, or nothing for a row of empty cells. */
  private toChange(
    plan: FilePlan,
    record: RawRecord,
    duplicates: Map<string, number[]>,
    files: FeedFile[],
    digests: RowDigests,
  ): ImportChange | undefined {
    const { fields } = record;
    if (fields.every((field) => field === '')) return undefined;
    const location = `${plan.file.display}:${record.line}`;
    const anchor = anchorOf(plan, fields, this.settings.anchorSeparator);
    if (fields.length !== plan.columns.length) {
      // The anchor is given even though the columns may be shifted: leaving it out would let the engine
      // delete the person this row stands for; giving a wrong one only protects some other object for a cycle.
      return rowError(
        location,
        anchor,
        'CSV_COLUMN_COUNT',
        `expected ${plan.columns.length} fields, found ${fields.length}`,
      );
    }
    if (anchor === undefined) {
      return rowError(
        location,
        undefined,
        'CSV_ANCHOR_MISSING',
        `no value in anchor column ${this.anchorColumns().join(', ')}`,
      );
    }
    const rows = duplicates.get(anchor);
    if (rows !== undefined) {
      // Every row of the anchor is an error and its object stays as it was: which row is right is for a person
      // to say. The later rows are the duplicates, and each names the first.
      const place = (row: number) => `${files[Math.floor(row / 2 ** 32)]!.display}:${row % 2 ** 32}`;
      const here = plan.fileIndex * 2 ** 32 + record.line;
      const others = rows.filter((row) => row !== here).map(place).join(', ');
      const what = rows[0] === here ? `anchor ${anchor} is also on ${others}` : `anchor ${anchor} already on ${others}`;
      return rowError(location, anchor, 'CSV_DUPLICATE_ANCHOR', `${what}: no row of it is applied until only one is left`);
    }
    const digest = rowDigest(plan.header, fields);
    if (digests.previous?.has(digest)) {
      digests.next.add(digest);
      return { kind: 'same', anchor };
    }
    const attributes: Attributes = {};
    const problems: CellError[] = [];
    const utf8 = this.settings.encoding === 'utf-8';
    for (const column of plan.columns) {
      const cell = fields[column.index]!;
      if (cell === '') continue;
      if (utf8 && cell.includes('\uFFFD')) {
        problems.push(
          new CellError(
            'CSV_INVALID_ENCODING',
            `column ${column.column}: not valid UTF-8 (is the file in another encoding?)`,
          ),
        );
        continue;
      }
      const values = convertCell(column, cell, this.settings.trim);
      if (values instanceof CellError) problems.push(values);
      else if (values.length > 0) attributes[column.attribute] = values;
    }
    if (problems.length > 0) {
      return rowError(location, anchor, problems[0]!.code, problems.map((p) => p.message).join('; '));
    }
    digests.next.add(digest);
    return { kind: 'upsert', object: { anchor, objectType: this.settings.objectType, attributes } };
  }

  private place(location: string) {
    return { connector: this.name, location };
  }
}

function anchorOf(plan: FilePlan, fields: string[], separator: string): string | undefined {
  if (plan.anchorIndexes.length === 1) return fields[plan.anchorIndexes[0]!] || undefined;
  const parts: string[] = [];
  for (const index of plan.anchorIndexes) {
    const part = fields[index];
    if (!part) return undefined;
    parts.push(part);
  }
  return parts.join(separator);
}

/** The first record and the rest of its batch, or undefined for a file with no record. */
async function firstRecord(
  batches: AsyncGenerator<RawRecord[]>,
): Promise<{ record: RawRecord; rest: RawRecord[] } | undefined> {
  for (;;) {
    // not for-await: leaving that loop would close the file
    const next = await batches.next();
    if (next.done) return undefined;
    if (next.value.length > 0) return { record: next.value[0]!, rest: next.value.slice(1) };
  }
}

async function* prepend(
  first: RawRecord[],
  batches: AsyncGenerator<RawRecord[]>,
): AsyncGenerator<RawRecord[]> {
  try {
    if (first.length > 0) yield first;
    yield* batches;
  } finally {
    await batches.return(undefined);
  }
}

function rowError(location: string, anchor: string | undefined, code: string, message: string): ImportChange {
  return { kind: 'error', ...(anchor !== undefined && { anchor }), location, code, message };
}

/** A resume position (ImportPage.resume) of this same feed, or undefined: from the first row. */
function resumePosition(resume: string | undefined, feed: string): { file: number; line: number } | undefined {
  if (resume === undefined) return undefined;
  try {
    const p = JSON.parse(resume) as { feed?: unknown; file?: unknown; line?: unknown };
    if (p.feed !== feed || !Number.isSafeInteger(p.file) || !Number.isSafeInteger(p.line)) return undefined;
    return { file: p.file as number, line: p.line as number };
  } catch {
    return undefined;
  }
}
