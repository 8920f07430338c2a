import { randomFillSync } from 'node:crypto';

/**
 * UUID version 7 (RFC 9562): a millisecond timestamp followed by random bits. Ids that grow with time keep
 * inserts at the right edge of the primary-key index (no random page splits at 100,000 creates) and make
 * keyset paging by id return objects roughly in creation order. A counter in the 12 `rand_a` bits keeps ids
 * from one process strictly increasing within a millisecond (RFC 9562 §6.2, method 1).
 */
let lastMillis = 0;
let counter = 0;

// Random bytes drawn 8 KiB at a time: one system call per 1024 ids instead of one per id.
const POOL_SIZE = 8192;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

export function newId(): string {
  let millis = Date.now();
  if (millis <= lastMillis) {
    counter++;
    if (counter > 0xfff) {
      // 4096 ids in one millisecond: borrow the next millisecond rather than repeat an id
      lastMillis++;
      counter = 0;
    }
    millis = lastMillis;
  } else {
    lastMillis = millis;
    counter = 0;
  }
  if (poolOffset + 8 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(millis, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  pool.copy(bytes, 8, poolOffset, poolOffset + 8);
  poolOffset += 8;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
