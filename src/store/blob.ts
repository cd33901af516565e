/** Float arrays ⇄ little-endian Float32 blobs, the on-disk form of every obs and action. */

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes `values` rounded to float32 (NaN and ±Infinity pass through: validate before). */
export function encodeFloats(values: ArrayLike<number>): Buffer {
  const buf = Buffer.allocUnsafe(values.length * 4);
  if (!LITTLE_ENDIAN_HOST || buf.byteOffset % 4 !== 0) return encodeInto(buf, values);
  new Float32Array(buf.buffer, buf.byteOffset, values.length).set(values);
  return buf;
}

/**
 * Decodes a blob of `blob.byteLength / 4` floats. On little-endian hosts the result may be a view
 * over `blob` (no copy): it shares memory with it.
 */
export function decodeFloats(blob: Uint8Array): Float32Array {
  if (blob.byteLength % 4 !== 0) {
    throw new RangeError(`a float32 blob must have a multiple of 4 bytes, got ${blob.byteLength}`);
  }
  if (!LITTLE_ENDIAN_HOST) return decodeFloatsPortable(blob);
  const n = blob.byteLength / 4;
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, n);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** The byte-order-independent encoder (what big-endian hosts use). */
export function encodeFloatsPortable(values: ArrayLike<number>): Buffer {
  return encodeInto(Buffer.allocUnsafe(values.length * 4), values);
}

/** The byte-order-independent decoder (what big-endian hosts use); always copies. */
export function decodeFloatsPortable(blob: Uint8Array): Float32Array {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Float32Array(blob.byteLength >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function encodeInto(buf: Buffer, values: ArrayLike<number>): Buffer {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return buf;
}
