// The learner's backend order (native → tfjs-node-gpu → tfjs-node → wasm), each skip said once with
// its reason, `--backend` forcing one, and where a forced choice places the critics and the actor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseBackend,
  describeBackend,
  nativeUnusable,
  placeOn,
} from '../../src/learner/backend.ts';

const missingAddon = '/nonexistent/tandem_learner.node';
const nativeMissing = nativeUnusable();
const skipNative =
  nativeMissing && !process.env.CI ? `native addon not available: ${nativeMissing}` : false;
const TFJS_SKIPPED = [
  { name: 'tensorflow-gpu', reason: 'not installed (optional dependency)' },
  { name: 'tensorflow', reason: 'not installed (optional dependency)' },
];

test(
  'with the addon built, native comes first and wasm loads beside it',
  { skip: skipNative },
  async () => {
    if (nativeMissing) assert.fail(`the native addon is required on CI: ${nativeMissing}`);
    const choice = await chooseBackend();
    assert.equal(choice.name, 'native');
    assert.equal(choice.tfjs, 'wasm');
    assert.equal(choice.forced, false);
    assert.deepEqual(choice.skipped, TFJS_SKIPPED);
    const line = describeBackend(choice);
    assert.match(
      line,
      /^learner backend native: critics and actor in the addon, tfjs wasm beside it/,
    );
    // Each skip once, with its reason.
    assert.equal(line.match(/tensorflow-gpu: not installed/g)?.length, 1);
    const placed = describeBackend(choice, {
      nativeCritics: 'openblas 0.3.21, Zen, 1 thread',
      actor: 'native',
    });
    assert.match(placed, /in the addon \(openblas 0\.3\.21, Zen, 1 thread\)/);
  },
);

test('without the addon, the learner falls back to wasm and says why and how to fix it', async () => {
  const choice = await chooseBackend(undefined, { nativeAddon: missingAddon });
  assert.equal(choice.name, 'wasm');
  assert.equal(choice.skipped[0]!.name, 'native');
  assert.match(choice.skipped[0]!.reason, /is not built.*Fix: .*npm run build:native/);
  assert.deepEqual(choice.skipped.slice(1), TFJS_SKIPPED);
  assert.match(describeBackend(choice), /^learner backend wasm \(skipped native: .*is not built/);
  // The automatic choice leaves the config's own placement alone.
  const config = { critics: 'auto', actor: 'auto' } as const;
  assert.deepEqual(placeOn(choice, config), config);
});

test('--backend native without the addon fails with the fix; a forced tfjs backend places everything there', async () => {
  await assert.rejects(
    chooseBackend('native', { nativeAddon: missingAddon }),
    /backend native cannot be used: .*is not built.*Fix: /,
  );
  await assert.rejects(
    chooseBackend('tensorflow'),
    /backend tensorflow cannot be used: not installed/,
  );
  const wasm = await chooseBackend('wasm');
  assert.deepEqual(wasm, { name: 'wasm', tfjs: 'wasm', forced: true, skipped: [] });
  assert.deepEqual(placeOn(wasm, { critics: 'auto', actor: 'auto' }), {
    critics: 'tfjs',
    actor: 'tfjs',
  });
});

test(
  '--backend native places the critics and the actor in the addon',
  { skip: skipNative },
  async () => {
    if (nativeMissing) assert.fail(`the native addon is required on CI: ${nativeMissing}`);
    const choice = await chooseBackend('native');
    assert.equal(choice.name, 'native');
    assert.equal(choice.forced, true);
    assert.deepEqual(placeOn(choice, { critics: 'tfjs', actor: 'tfjs' }), {
      critics: 'native',
      actor: 'auto',
    });
  },
);
