/**
 * A small BER reader over one buffer, for the responses LDAP servers send. Requests are written with ldapts'
 * BerWriter; responses are read here because an import decodes millions of values and ldapts' reader copies
 * every one of them.
 */

export class BerDecodeError extends Error {
  override readonly name = 'BerDecodeError';
}

export class BerCursor {
  pos: number;
  /** the tag and the content bounds of the element last read by `enter()` or `next()` */
  tag = 0;
  start = 0;
  end = 0;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly limit = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.limit;
  }

  peekTag(): number {
    if (this.pos >= this.limit) return -1;
    return this.buf[this.pos]!;
  }

  /** reads the header of the next element and leaves `pos` at its content (to read the parts of a SEQUENCE) */
  enter(expected?: number): this {
    this.header();
    if (expected !== undefined && this.tag !== expected) {
      throw new BerDecodeError(`expected tag 0x${expected.toString(16)}, found 0x${this.tag.toString(16)}`);
    }
    return this;
  }

  /** reads the header of the next element and skips over it; its content is at `start`..`end` */
  next(expected?: number): this {
    this.enter(expected);
    this.pos = this.end;
    return this;
  }

  private header(): void {
    const buf = this.buf;
    let p = this.pos;
    if (p + 2 > this.limit) throw new BerDecodeError('truncated element');
    this.tag = buf[p++]!;
    let len = buf[p++]!;
    if (len & 0x80) {
      const bytes = len & 0x7f;
      if (bytes === 0 || bytes > 4) throw new BerDecodeError(`unsupported length form 0x${len.toString(16)}`);
      len = 0;
      for (let i = 0; i < bytes; i++) len = len * 256 + buf[p++]!;
    }
    if (p + len > this.limit) throw new BerDecodeError('element runs past its container');
    this.start = p;
    this.end = p + len;
    this.pos = p;
  }

  /** an OCTET STRING (or any primitive) as UTF-8 */
  string(expected?: number): string {
    this.next(expected);
    return this.buf.toString('utf8', this.start, this.end);
  }

  /** a primitive's content as a new buffer (copied: the receive buffer is reused) */
  bytes(expected?: number): Buffer {
    this.next(expected);
    return Buffer.from(this.buf.subarray(this.start, this.end));
  }

  /** INTEGER or ENUMERATED */
  int(expected?: number): number {
    this.next(expected);
    let value = 0;
    for (let i = this.start; i < this.end; i++) value = value * 256 + this.buf[i]!;
    const width = this.end - this.start;
    if (width > 0 && this.buf[this.start]! & 0x80) value -= 2 ** (8 * width);
    return value;
  }

  boolean(expected?: number): boolean {
    this.next(expected);
    return this.end > this.start && this.buf[this.start] !== 0;
  }
}

/**
 * The length of the complete BER element at the start of `buf` (header + content), or -1 when more bytes are
 * needed to know or to have it.
 */
export function elementLength(buf: Buffer, offset: number): number {
  const available = buf.length - offset;
  if (available < 2) return -1;
  let len = buf[offset + 1]!;
  let headerLength = 2;
  if (len & 0x80) {
    const bytes = len & 0x7f;
    if (bytes === 0 || bytes > 4) throw new BerDecodeError(`unsupported length form 0x${len.toString(16)}`);
    if (available < 2 + bytes) return -1;
    len = 0;
    for (let i = 0; i < bytes; i++) len = len * 256 + buf[offset + 2 + i]!;
    headerLength += bytes;
  }
  const total = headerLength + len;
  return available >= total ? total : -1;
}
