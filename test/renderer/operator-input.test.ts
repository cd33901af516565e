import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  gamepadAction,
  keyboardAction,
  nextTeleopSeq,
  STICK_DEADZONE,
  teleopHz,
  type PadState,
  type TeleopLayout,
} from '../../renderer/live/operator-input.ts';

const PANDA: TeleopLayout = { actionDim: 4, translation: [0, 1, 2], gripper: 3 };

function pad(axes: number[], pressed: number[] = []): PadState {
  return {
    axes,
    buttons: Array.from({ length: 17 }, (_, i) => ({
      value: pressed.includes(i) ? 1 : 0,
      pressed: pressed.includes(i),
    })),
  };
}

describe('keyboard and gamepad operators: the action they send', () => {
  it('keys move along the robot base axes; opposite keys cancel; G state is the gripper', () => {
    assert.deepEqual(keyboardAction(new Set(['ArrowUp']), false, PANDA), [1, 0, 0, -1]);
    assert.deepEqual(keyboardAction(new Set(['ArrowLeft', 'PageUp']), true, PANDA), [0, 1, 1, 1]);
    assert.deepEqual(
      keyboardAction(new Set(['ArrowUp', 'ArrowDown', 'q']), false, PANDA),
      [0, 0, -1, -1],
    );
    assert.deepEqual(
      keyboardAction(new Set(['x', 'Enter']), false, PANDA),
      [0, 0, 0, -1],
      'other keys: still',
    );
  });

  it('follows the robot layout (translation entries and gripper where the spec says)', () => {
    const other: TeleopLayout = { actionDim: 6, translation: [3, 4, 5] };
    assert.deepEqual(keyboardAction(new Set(['ArrowRight']), true, other), [0, 0, 0, 0, -1, 0]);
  });

  it('gamepad: left stick up is forward, left is +y, right stick up is +z; dead zone; trigger closes', () => {
    assert.deepEqual(gamepadAction(pad([0, -1, 0, 0]), PANDA), [1, -0, -0, -1]);
    assert.deepEqual(gamepadAction(pad([-1, 0, 0, -1], [7]), PANDA), [-0, 1, 1, 1]);
    const small = gamepadAction(pad([STICK_DEADZONE / 2, -STICK_DEADZONE / 2, 0.1, 0]), PANDA);
    assert.deepEqual(small.map(Math.abs), [0, 0, 0, 1], 'a resting stick sends no motion');
    const half = gamepadAction(pad([0, -(STICK_DEADZONE + (1 - STICK_DEADZONE) / 2), 0, 0]), PANDA);
    assert.ok(Math.abs(half[0]! - 0.5) < 1e-9, 'rescaled past the dead zone');
    const broken = gamepadAction(pad([NaN, Infinity, 0, 0]), PANDA);
    assert.ok(broken.every(Number.isFinite), 'a broken pad sends finite numbers');
  });

  it('packets go at twice the control rate (a packet drives one tick), 20 to 100 a second', () => {
    assert.equal(teleopHz(10), 20);
    assert.equal(teleopHz(30), 60);
    assert.equal(teleopHz(2), 20);
    assert.equal(teleopHz(50), 100);
  });

  it('packet numbers only go up, also across a reload (they start from the clock)', () => {
    const a = nextTeleopSeq();
    const b = nextTeleopSeq();
    assert.ok(b > a && Number.isSafeInteger(b));
    assert.ok(a > Date.now() * 1000 - 10_000_000, 'from the clock in microseconds');
  });
});
