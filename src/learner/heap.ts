import * as tf from '@tensorflow/tfjs';

/**
 * Reading tensors into JS and making tensors from JS without the copies where the backend allows.
 *
 * On the wasm backend a tensor's values live in the module's heap: `read` returns a view of them
 * (no copy) and `make` allocates the tensor first and lets the caller write its values in place.
 * A view is valid only until the next allocation on the heap (any tensor made, any op run):
 * the heap may grow then, which detaches every view. So take views right before the loop that
 * uses them, and never hold one across a tf op or a `make`. On the other backends `read` is
 * `dataSync()` (a copy, or the backend's own array: never write into it).
 */

interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

let heapFor: { backend: tf.KernelBackend; heap: WasmHeap | undefined } | undefined;

function wasmHeap(): WasmHeap | undefined {
  const backend = tf.backend();
  if (heapFor?.backend !== backend) {
    const b = backend as unknown as Partial<WasmHeap>;
    const usable =
      tf.getBackend() === 'wasm' &&
      typeof b.makeOutput === 'function' &&
      typeof b.typedArrayFromHeap === 'function';
    heapFor = { backend, heap: usable ? (b as WasmHeap) : undefined };
  }
  return heapFor.heap;
}

/** The values of a float32 tensor: a heap view on wasm (see above), else `dataSync()`. */
export function read(t: tf.TensorInfo | tf.Tensor): Float32Array {
  const heap = wasmHeap();
  if (heap) return heap.typedArrayFromHeap(t as tf.TensorInfo);
  return (t as tf.Tensor).dataSync() as Float32Array;
}

/**
 * A new float32 tensor of `shape` whose values `fill` writes into `out` (which starts
 * uninitialised on wasm: write every element). `fill` must take its views of other tensors
 * itself (after the allocation) and must not run tf ops.
 */
export function make<R extends tf.Rank>(
  shape: number[],
  fill: (out: Float32Array) => void,
): tf.Tensor<R> {
  const heap = wasmHeap();
  if (heap) {
    const info = heap.makeOutput(shape, 'float32');
    const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
    fill(heap.typedArrayFromHeap(info));
    return t;
  }
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(out);
  return tf.tensor(out, [...shape], 'float32') as unknown as tf.Tensor<R>;
}
