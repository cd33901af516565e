import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeFloats,
  decodeFloatsPortable,
  encodeFloats,
  encodeFloatsPortable,
} from '../../src/store/blob.ts';

const values = [0, -0, 1, -1.5, Math.PI, 1e-40, -3.4028234663852886e38, 0.1, 123456.789];

test('floats round-trip bit-exact after a float32 round', () => {
  const back = Array.from(decodeFloats(encodeFloats(values)));
  assert.deepEqual(back, values.map(Math.fround));
  assert.ok(Object.is(back[1], -0), '-0 keeps its sign');
});

test('blobs are little-endian float32, whatever the host', () => {
  const blob = encodeFloats([1, -2]);
  assert.deepEqual([...blob], [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
  assert.deepEqual(encodeFloatsPortable(values), encodeFloats(values));
  assert.deepEqual(decodeFloatsPortable(blob), new Float32Array([1, -2]));
});

test('typed arrays are accepted and a misaligned blob is decoded by copy', () => {
  const blob = encodeFloats(new Float64Array([0.5, 0.25, 2]));
  const shifted = Buffer.alloc(blob.length + 1);
  blob.copy(shifted, 1);
  assert.deepEqual(decodeFloats(shifted.subarray(1)), new Float32Array([0.5, 0.25, 2]));
});

test('a blob whose length is not a multiple of 4 is refused', () => {
  assert.throws(() => decodeFloats(Buffer.alloc(6)), /multiple of 4 bytes, got 6/);
});
