/**
 * Row digests: what lets the import of a changed feed skip the rows that did not change.
 *
 * An HR feed is re-read whole every cycle, and most of its rows are as they were. Each import keeps a digest
 * (64 bits of SHA-256) of every row it reported as an object, in a file named after the watermark that
 * import ended with. The next import, given that watermark back, reports a row whose digest is in the file
 * as `same` (the engine neither reads nor compares it) and converts only the others.
 *
 * Why this is exact: a watermark hashes the settings and every byte of the feed, and the rows an import
 * reports as objects follow from those alone, so a digest file belongs to its watermark for good. A digest
 * covers the file's header and all the row's fields (its anchor among them): the same digest is the same
 * row, read the same way; it covers the settings too, so a file of an import under other settings matches
 * nothing. Rows that were errors are not in the file; they are converted again.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MAGIC = Buffer.from('idsync-csv-rows 1\n');

/** The digest of one row of a file whose header is `header` (as `headerKey` gives it). */
export function rowDigest(header: string, fields: string[]): bigint {
  return createHash('sha256').update(header).update(JSON.stringify(fields)).digest().readBigUInt64BE(0);
}

/**
 * The part of every row digest of a file that says how its rows are read: the connector's settings (a type
 * or separator changed reads the same bytes into other values) and the file's column names, in order.
 */
export function headerKey(settings: unknown, columns: string[]): string {
  return `${JSON.stringify([settings, columns])}\n`;
}

/** A sorted set of digests, read from the file of an earlier import. */
export class RowDigestSet {
  private constructor(private readonly sorted: BigUint64Array) {}

  has(digest: bigint): boolean {
    const a = this.sorted;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid]!;
      if (v === digest) return true;
      if (v < digest) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** The digests an import with this watermark left, or undefined if there is no readable file for it. */
  static read(folder: string, watermark: string): RowDigestSet | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(folder, fileName(watermark)));
    } catch {
      return undefined;
    }
    const body = bytes.subarray(MAGIC.length);
    if (!bytes.subarray(0, MAGIC.length).equals(MAGIC) || body.length % 8 !== 0) return undefined;
    // copied into an aligned array of its own: the file's buffer may sit at any offset of Node's pool
    const sorted = new BigUint64Array(body.length / 8);
    Buffer.from(sorted.buffer).set(body);
    return new RowDigestSet(sorted);
  }
}

/** The digests of the rows an import reports, collected as it reads, then written for the next import. */
export class RowDigestList {
  private digests = new BigUint64Array(4096);
  private count = 0;

  add(digest: bigint): void {
    if (this.count === this.digests.length) {
      const grown = new BigUint64Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    this.digests[this.count++] = digest;
  }

  /**
   * Writes the file for `watermark` (whole or not at all: a temporary file renamed) and removes the files of
   * older imports except `keep`'s (the watermark this import was given, still the committed one until the
   * engine commits the new).
   */
  write(folder: string, watermark: string, keep: string | null): void {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const sorted = this.digests.subarray(0, this.count).sort();
    const name = fileName(watermark);
    const temporary = join(folder, `${name}.${process.pid}.tmp`);
    writeFileSync(temporary, Buffer.concat([MAGIC, Buffer.from(sorted.buffer, sorted.byteOffset, sorted.byteLength)]), { mode: 0o600 });
    renameSync(temporary, join(folder, name));
    const kept = new Set([name, ...(keep === null ? [] : [fileName(keep)])]);
    for (const file of readdirSync(folder)) if (!kept.has(file)) rmSync(join(folder, file), { force: true });
  }
}

/** A watermark is `sha256:HEX`; its file is named by the hex alone. */
function fileName(watermark: string): string {
  return `${watermark.replace(/^sha256:/, '').replace(/[^0-9a-zA-Z]/g, '_')}.rows`;
}
