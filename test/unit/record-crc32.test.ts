// The frame checksum against independent values: the standard check vectors, and the
// CRC-32 zlib writes into every gzip trailer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { crc32 } from '../../src/record/crc32.js';

test('crc32 matches the published check values', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  assert.equal(crc32(Buffer.alloc(0)), 0);
});

test('crc32 matches the CRC in gzip trailers for every length and alignment', () => {
  for (let len = 0; len < 300; len += len < 20 ? 1 : 37) {
    for (const skew of [0, 1, 3, 7]) {
      const data = randomBytes(len + skew);
      const gz = gzipSync(data.subarray(skew));
      assert.equal(crc32(data, skew, data.length), gz.readUInt32LE(gz.length - 8), `length ${len}, offset ${skew}`);
    }
  }
});
