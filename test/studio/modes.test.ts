import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ModeCommand,
  ModeEvent,
  type CommandOrigin,
  type Mode,
  type ModeCommandType,
} from '../../src/protocol/index.ts';
import { ModeMachine, type ModeMachineOptions } from '../../src/studio/modes.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** A machine whose listener keeps every event, validated against the protocol's schema. */
function machine(options: Omit<ModeMachineOptions, 'listener'> = {}) {
  const events: ModeEvent[] = [];
  const m = new ModeMachine({ ...options, listener: (e) => events.push(ModeEvent.parse(e)) });
  return { m, events };
}

const ui = 'ui' as const;
const setMode = (mode: Mode, origin: CommandOrigin = ui) => ({ type: 'set-mode', mode, origin });
const press = (origin: CommandOrigin = 'gamepad') => ({ type: 'intervene', pressed: true, origin });
const release = (origin: CommandOrigin = 'gamepad') => ({
  type: 'intervene',
  pressed: false,
  origin,
});
const toggle = (origin: CommandOrigin = 'keyboard') => ({ type: 'toggle-intervention', origin });
const estop = (origin: CommandOrigin = 'keyboard') => ({ type: 'e-stop', origin });
const reset = (origin: CommandOrigin = ui) => ({ type: 'reset', origin });

/** Brings a fresh machine into `mode` by ordinary commands. */
function reach(mode: Mode, options: Omit<ModeMachineOptions, 'listener'> = {}) {
  const h = machine(options);
  const path: Record<Mode, object[]> = {
    paused: [],
    autonomous: [setMode('autonomous')],
    intervention: [setMode('autonomous'), press()],
    'bc-warmup': [setMode('bc-warmup')],
    'e-stop': [estop()],
  };
  for (const c of path[mode]) assert.equal(h.m.apply(c, 0).ok, true);
  assert.equal(h.m.mode, mode);
  h.events.length = 0;
  return h;
}

const MODES: Mode[] = ['paused', 'autonomous', 'intervention', 'bc-warmup', 'e-stop'];

describe('ModeMachine', () => {
  it('starts paused with nobody driving; says who drives in every mode', () => {
    assert.equal(new ModeMachine().mode, 'paused');
    assert.equal(new ModeMachine().style, 'hold', 'hold-to-intervene by default');
    const drivers: Record<Mode, string> = {
      paused: 'none',
      autonomous: 'policy',
      intervention: 'operator',
      'bc-warmup': 'operator',
      'e-stop': 'none',
    };
    for (const mode of MODES) assert.equal(reach(mode).m.driver(), drivers[mode], mode);
  });

  it('reaches e-stop from every mode, at once, whatever the origin', () => {
    for (const mode of MODES) {
      for (const origin of ['ui', 'headset', 'safety'] as const) {
        const { m, events } = reach(mode);
        const r = m.apply(estop(origin), 42);
        assert.deepEqual(r, { ok: true, from: mode, to: 'e-stop' });
        assert.equal(m.mode, 'e-stop');
        assert.equal(m.driver(), 'none');
        if (mode === 'e-stop') assert.deepEqual(events, [], 'already stopped: no transition');
        else {
          assert.deepEqual(events, [
            { kind: 'transition', from: mode, to: 'e-stop', cause: 'e-stop', origin, at: 42 },
          ]);
        }
      }
      const viaSetMode = reach(mode).m;
      assert.equal(viaSetMode.apply(setMode('e-stop'), 1).to, 'e-stop', 'set-mode e-stop too');
    }
  });

  it('leaves e-stop only by reset, to paused; refuses everything else there with a reason', () => {
    const { m, events } = reach('e-stop');
    for (const c of [
      setMode('autonomous'),
      setMode('bc-warmup'),
      setMode('paused'),
      press(),
      release(),
      toggle(),
    ]) {
      const r = m.apply(c, 5);
      assert.equal(r.ok, false);
      assert.equal(r.reason, 'e-stop is engaged: send reset first');
      assert.equal(m.mode, 'e-stop');
    }
    assert.equal(events.length, 6);
    assert.ok(events.every((e) => e.kind === 'refused' && e.mode === 'e-stop'));
    assert.deepEqual(m.apply(reset('headset'), 9), { ok: true, from: 'e-stop', to: 'paused' });
    assert.deepEqual(events.at(-1), {
      kind: 'transition',
      from: 'e-stop',
      to: 'paused',
      cause: 'reset',
      origin: 'headset',
      at: 9,
    });
    // A reset outside e-stop is refused and changes nothing.
    m.apply(setMode('autonomous'), 10);
    const r = m.apply(reset(), 11);
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /not in e-stop \(mode is autonomous\)/);
    assert.equal(m.mode, 'autonomous');
  });

  it('hold style: intervention lasts while the button is held; release hands back', () => {
    const { m, events } = reach('autonomous');
    assert.deepEqual(m.apply(press('gamepad'), 1), {
      ok: true,
      from: 'autonomous',
      to: 'intervention',
    });
    assert.equal(m.driver(), 'operator');
    assert.equal(m.returnTo, 'autonomous');
    assert.deepEqual(m.apply(press('gamepad'), 2), {
      ok: true,
      from: 'intervention',
      to: 'intervention',
    });
    assert.deepEqual(m.apply(release('gamepad'), 3), {
      ok: true,
      from: 'intervention',
      to: 'autonomous',
    });
    assert.equal(m.driver(), 'policy');
    assert.deepEqual(
      events.map((e) => e.kind === 'transition' && [e.from, e.to, e.cause, e.origin, e.at]),
      [
        ['autonomous', 'intervention', 'intervene', 'gamepad', 1],
        ['intervention', 'autonomous', 'intervene', 'gamepad', 3],
      ],
    );
    // A stray release (nothing held) changes nothing and is not reported.
    assert.deepEqual(m.apply(release('keyboard'), 4), {
      ok: true,
      from: 'autonomous',
      to: 'autonomous',
    });
    assert.equal(events.length, 2);
  });

  it('hold style: two devices holding: the last release hands back', () => {
    const { m } = reach('autonomous');
    m.apply(press('keyboard'), 1);
    m.apply(press('headset'), 2);
    m.apply(release('keyboard'), 3);
    assert.equal(m.mode, 'intervention', 'the headset still holds');
    m.apply(release('gamepad'), 4);
    assert.equal(m.mode, 'intervention', 'the gamepad never held it');
    m.apply(release('headset'), 5);
    assert.equal(m.mode, 'autonomous');
  });

  it('toggle style: a press starts, the next press hands back; releases are ignored', () => {
    const { m, events } = reach('autonomous', { style: 'toggle' });
    m.apply(press('keyboard'), 1);
    assert.equal(m.mode, 'intervention');
    m.apply(release('keyboard'), 2);
    assert.equal(m.mode, 'intervention', 'a release does not hand back in toggle style');
    m.apply(press('gamepad'), 3);
    assert.equal(m.mode, 'autonomous');
    m.apply(release('gamepad'), 4);
    assert.equal(m.mode, 'autonomous');
    assert.deepEqual(
      events.map((e) => (e.kind === 'transition' ? `${e.from}>${e.to}@${e.at}` : e.kind)),
      ['autonomous>intervention@1', 'intervention>autonomous@3'],
    );
  });

  it('the scripted operator states intent (press: take over, release: hand back) in both styles', () => {
    for (const style of ['hold', 'toggle'] as const) {
      const { m } = reach('autonomous', { style });
      m.apply(press('scripted'), 1);
      assert.equal(m.mode, 'intervention', style);
      m.apply(press('scripted'), 2);
      assert.equal(m.mode, 'intervention', `${style}: a second press does not toggle back`);
      m.apply(release('scripted'), 3);
      assert.equal(m.mode, 'autonomous', style);
    }
  });

  it('toggle-intervention starts and ends an intervention in either style', () => {
    for (const style of ['hold', 'toggle'] as const) {
      const { m, events } = reach('autonomous', { style });
      m.apply(toggle(), 1);
      assert.equal(m.mode, 'intervention');
      m.apply(toggle(), 2);
      assert.equal(m.mode, 'autonomous');
      assert.ok(events.every((e) => e.kind === 'transition' && e.cause === 'toggle-intervention'));
    }
  });

  it('an intervention from paused hands back to paused; from bc-warmup it is refused', () => {
    const { m } = reach('paused');
    m.apply(press(), 1);
    assert.equal(m.mode, 'intervention');
    assert.equal(m.returnTo, 'paused');
    m.apply(release(), 2);
    assert.equal(m.mode, 'paused');
    assert.equal(m.driver(), 'none');

    const warm = reach('bc-warmup');
    const r = warm.m.apply(press(), 3);
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /the operator already drives in bc-warmup/);
    assert.equal(warm.m.mode, 'bc-warmup');
    assert.deepEqual(warm.events, [
      {
        kind: 'refused',
        mode: 'bc-warmup',
        cause: 'intervene',
        origin: 'gamepad',
        at: 3,
        reason: r.reason,
      },
    ]);
    assert.equal(warm.m.apply(release(), 4).ok, true, 'its release is harmless');
    assert.equal(warm.m.apply(toggle(), 5).ok, false);
  });

  it('set-mode takes effect at once, also during an intervention (which it ends)', () => {
    const { m, events } = reach('intervention');
    assert.deepEqual(m.apply(setMode('paused', 'headset'), 7), {
      ok: true,
      from: 'intervention',
      to: 'paused',
    });
    assert.deepEqual(events, [
      {
        kind: 'transition',
        from: 'intervention',
        to: 'paused',
        cause: 'set-mode',
        origin: 'headset',
        at: 7,
      },
    ]);
    m.apply(release(), 8);
    assert.equal(m.mode, 'paused', 'the late release of the ended intervention does nothing');
    for (const [from, to] of [
      ['paused', 'bc-warmup'],
      ['bc-warmup', 'autonomous'],
      ['autonomous', 'bc-warmup'],
      ['bc-warmup', 'paused'],
      ['paused', 'autonomous'],
    ] as const) {
      assert.deepEqual(m.apply(setMode(to), 9), { ok: true, from, to });
    }
    assert.deepEqual(m.apply(setMode('autonomous'), 10), {
      ok: true,
      from: 'autonomous',
      to: 'autonomous',
    });
    const r = m.apply(setMode('intervention'), 11);
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /starts with intervene or toggle-intervention/);
    assert.equal(m.mode, 'autonomous');
  });

  it('e-stop during a held intervention: reset goes to paused, the held button is forgotten', () => {
    const { m } = reach('intervention');
    m.apply(estop('safety'), 1);
    assert.equal(m.apply(release(), 2).ok, false, 'refused in e-stop');
    m.apply(reset(), 3);
    assert.equal(m.mode, 'paused');
    assert.equal(m.returnTo, undefined);
    m.apply(setMode('autonomous'), 4);
    m.apply(release(), 5);
    assert.equal(m.mode, 'autonomous');
  });

  it('refuses malformed or unknown commands with a clear error and changes nothing', () => {
    for (const mode of MODES) {
      const { m, events } = reach(mode);
      const returnTo = m.returnTo;
      for (const [bad, pattern] of [
        [undefined, /malformed mode command/],
        [null, /malformed mode command/],
        ['e-stop', /malformed mode command/],
        [{}, /type/],
        [{ type: 'launch', origin: 'ui' }, /type/],
        [{ type: 'set-mode', origin: 'ui' }, /mode/],
        [{ type: 'set-mode', mode: 'turbo', origin: 'ui' }, /mode/],
        [{ type: 'intervene', pressed: 'yes', origin: 'gamepad' }, /pressed/],
        [{ type: 'reset' }, /origin/],
        [{ type: 'toggle-intervention', origin: 'telepathy' }, /origin/],
        [{ type: 'e-stop', origin: 'ui', extra: 1 }, /extra/],
      ] as const) {
        const r = m.apply(bad, 77);
        assert.equal(r.ok, false, JSON.stringify(bad));
        assert.match(r.reason ?? '', pattern, JSON.stringify(bad));
        assert.equal(m.mode, mode, 'mode unchanged');
        assert.equal(m.returnTo, returnTo);
      }
      assert.equal(events.length, 11);
      const last = events.at(-1)!;
      assert.equal(last.kind, 'refused');
      assert.equal(last.kind === 'refused' && last.cause, 'invalid');
      assert.equal(last.kind === 'refused' && last.origin, 'ui');
      assert.ok(events.every((e) => e.kind === 'refused' && e.at === 77 && e.mode === mode));
    }
    // Even a malformed e-stop is refused: the schema is the one way in (an RPC client learns why).
    const { m } = reach('autonomous');
    const r = m.apply({ type: 'e-stop' }, 1);
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /origin/);
  });

  it('the protocol schema: command types listed once, events parse', () => {
    const typesMatch: Same<ModeCommand['type'], ModeCommandType> = true;
    assert.ok(typesMatch);
    assert.deepEqual(ModeCommand.parse(press()), press());
    assert.throws(() => ModeEvent.parse({ kind: 'transition', from: 'paused' }));
  });
});
