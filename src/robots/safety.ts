import { z } from 'zod';
import {
  SAFETY_REASONS,
  safetySpecProblems,
  type Mode,
  type RobotSpec,
  type SafetyReason,
  type SafetySpec,
  type SafetyVerdict,
} from '../protocol/index.ts';

export { SAFETY_REASONS, type SafetyReason, type SafetyVerdict };

/**
 * The safety layer's settings. `maxStepMetres` (end-effector-delta robots): the largest
 * translation of one control step; absent, the largest the action box allows (‖1, 1, 1‖ units for
 * [−1, 1]³), so by default it is no tighter than the task. `maxDelta` (absolute robots): the
 * largest change of any action entry from the last executed action; 2 = no limit within [−1, 1].
 */
export const SafetyOptions = z
  .object({
    /** Operator input older than this (ms) while the operator drives is stale: hold still. */
    staleMs: z.number().positive().default(250),
    maxStepMetres: z.number().positive().optional(),
    maxDelta: z.number().positive().default(2),
  })
  .strict();
export type SafetyOptions = z.infer<typeof SafetyOptions>;
/** The options as given: every field optional. */
export type SafetyOptionsInput = z.input<typeof SafetyOptions>;

/** Who proposed the action the layer filters. */
export type SafetySource = 'policy' | 'operator' | 'expert';

/** Holds that raise an alarm when they begin: something upstream is broken. */
const ALARMING: ReadonlySet<SafetyReason> = new Set([
  'missing',
  'length',
  'nan',
  'bad-obs',
  'stale-operator',
]);

export interface SafetyInput {
  /** The proposed action; `null` when the source has none (e.g. no operator packet yet). */
  action: ArrayLike<number> | null;
  source: SafetySource;
  /** The current observation, the one the action was chosen on. */
  obs: ArrayLike<number>;
  /** Now, in milliseconds (the same clock as `lastOperatorPacketAt`). */
  now: number;
  /** When the last operator packet arrived (ms), undefined if none has. */
  lastOperatorPacketAt: number | undefined;
  estop: boolean;
  mode: Mode;
  /**
   * Operator input: no packet came since the newest one drove a tick. Held (`no-packet`, no
   * alarm: a late packet is not yet a failed stream; the stale hold alarms once it is).
   */
  repeated?: boolean;
}

/** What to execute. `action` is always finite, of the action's length and inside its box. */
export interface SafetyResult {
  action: Float32Array;
  verdict: SafetyVerdict;
  /** Every reason that applied this tick (empty on `pass`). */
  reasons: SafetyReason[];
  /** Set on the tick an alarming hold begins (not repeated while it lasts). */
  alarm?: string;
}

/** Counters for telemetry: ticks filtered, ticks per verdict and ticks per reason. */
export interface SafetyStats {
  ticks: number;
  verdicts: Record<SafetyVerdict, number>;
  reasons: Record<SafetyReason, number>;
}

type EeDelta = Extract<SafetySpec, { kind: 'ee-delta' }>;

/**
 * The one safety layer between every action source and the robot: pure, no I/O. The control loop
 * calls `filter` once per tick and executes exactly the action it returns; the layer assumes it
 * does (it remembers the last executed action). Call `reset` when the robot is reset.
 *
 * Rules, in order: a hold (e-stop, paused mode, stale operator input, no new operator packet,
 * missing / wrong-length / non-finite action, unreadable tool point) sends "hold still"; otherwise the action is clamped to
 * the action box, then to the per-step delta limit, then (end-effector robots) so the commanded
 * tool point stays in the workspace box. "Hold still" is, for end-effector-delta robots, zero
 * motion (a `targetLead` robot's target pulled back to where the tool point was when the hold
 * began) with the last executed gripper command kept, so a grasped object stays grasped; for
 * absolute robots the last executed action (before any, `rest` or the box centre).
 */
export class SafetyLayer {
  readonly spec: RobotSpec;
  readonly safety: SafetySpec;
  /** The options in force, `maxStepMetres` resolved: print or store them as they are. */
  readonly settings: SafetyOptions;
  readonly #dim: number;
  readonly #low: Float64Array;
  readonly #high: Float64Array;
  readonly #ee: EeDelta | undefined;
  readonly #eeObs: [number, number, number] = [0, 0, 0];
  readonly #maxStepUnits: number = Infinity;
  /** The last executed action; undefined before the first one after a reset. */
  #last: Float32Array | undefined;
  /** The robot's tracked target (targetLead robots); undefined until the first tick. */
  #target: Float64Array | undefined;
  /** Where the tool point was when the current hold began (targetLead robots). */
  #anchor: Float64Array | undefined;
  /** Alarming reasons that held the previous tick (an alarm is raised when one begins). */
  #holding = new Set<SafetyReason>();
  #stats: SafetyStats = emptyStats();

  constructor(spec: RobotSpec, options: SafetyOptionsInput = {}) {
    if (!spec.safety) {
      throw new Error(
        `task ${spec.task} has no safety description (RobotSpec.safety): it cannot be driven live`,
      );
    }
    const problems = safetySpecProblems(spec);
    if (problems.length > 0) {
      throw new Error(`task ${spec.task}: bad safety description: ${problems.join('; ')}`);
    }
    const opts = SafetyOptions.parse(options);
    this.spec = spec;
    this.safety = spec.safety;
    this.#dim = spec.action.names.length;
    this.#low = Float64Array.from(spec.action.low);
    this.#high = Float64Array.from(spec.action.high);
    if (spec.safety.kind === 'ee-delta') {
      const ee = spec.safety;
      this.#ee = ee;
      this.#eeObs = ee.eeObs.map((n) => spec.observation.names.indexOf(n)) as [
        number,
        number,
        number,
      ];
      // The box's largest translation, in units: the default limit is no tighter than the task.
      const widest = Math.hypot(
        ...ee.translation.map((i) => Math.max(Math.abs(this.#low[i]!), Math.abs(this.#high[i]!))),
      );
      const maxStepMetres = opts.maxStepMetres ?? widest * ee.metresPerUnit;
      this.#maxStepUnits = maxStepMetres / ee.metresPerUnit;
      this.settings = { ...opts, maxStepMetres };
    } else {
      this.settings = opts;
    }
  }

  /** The robot was reset: forget the last executed action and the tracked target. */
  reset(): void {
    this.#last = undefined;
    this.#target = undefined;
    this.#anchor = undefined;
  }

  /** The last executed action (a copy), undefined before the first one after a reset. */
  get lastExecuted(): Float32Array | undefined {
    return this.#last && Float32Array.from(this.#last);
  }

  /**
   * The gripper command a hold keeps: the last executed one, or (none yet since the reset) the one
   * a reset leaves; undefined for a robot without a gripper.
   */
  get gripperCommand(): number | undefined {
    const g = this.#ee?.gripper;
    if (!g) return undefined;
    return this.#last
      ? this.#last[g.index]!
      : roundInto(g.atReset, this.#low[g.index]!, this.#high[g.index]!);
  }

  /** Counters since construction (a copy). */
  stats(): SafetyStats {
    return {
      ticks: this.#stats.ticks,
      verdicts: { ...this.#stats.verdicts },
      reasons: { ...this.#stats.reasons },
    };
  }

  /** Filters one tick's proposed action into the action to execute. */
  filter(input: SafetyInput): SafetyResult {
    const holds = this.#holdReasons(input);
    let action: Float32Array;
    let reasons: SafetyReason[];
    let verdict: SafetyVerdict;
    if (holds.length > 0) {
      action = this.#holdAction(input.obs);
      reasons = holds;
      verdict = 'held';
    } else {
      this.#anchor = undefined;
      const clamped = this.#clamp(input.action!, input.obs);
      action = clamped.action;
      reasons = clamped.reasons;
      verdict = reasons.length > 0 ? 'clamped' : 'pass';
    }
    this.#executed(action, input.obs);

    let alarm: string | undefined;
    const alarming = new Set(reasons.filter((r) => ALARMING.has(r)));
    const begun = [...alarming].filter((r) => !this.#holding.has(r));
    if (begun.length > 0) alarm = describeAlarm(begun, input, this.settings.staleMs, this.#dim);
    this.#holding = alarming;

    this.#stats.ticks++;
    this.#stats.verdicts[verdict]++;
    for (const r of reasons) this.#stats.reasons[r]++;
    return alarm === undefined ? { action, verdict, reasons } : { action, verdict, reasons, alarm };
  }

  #holdReasons(input: SafetyInput): SafetyReason[] {
    // Nobody drives in e-stop or paused: hold, whatever else is wrong (no alarms for it).
    if (input.estop || input.mode === 'e-stop') return ['e-stop'];
    if (input.mode === 'paused') return ['paused'];
    const reasons: SafetyReason[] = [];
    if (input.source === 'operator' && this.#stale(input)) reasons.push('stale-operator');
    const a = input.action;
    if (input.source === 'operator' && input.repeated) reasons.push('no-packet');
    else if (a === null || a === undefined) reasons.push('missing');
    else if (a.length !== this.#dim) reasons.push('length');
    else if (!allFinite(a, this.#dim)) reasons.push('nan');
    if (this.#ee && !this.#tcp(input.obs)) reasons.push('bad-obs');
    return reasons;
  }

  #stale(input: SafetyInput): boolean {
    const last = input.lastOperatorPacketAt;
    if (last === undefined || !Number.isFinite(last) || !Number.isFinite(input.now)) return true;
    return input.now - last > this.settings.staleMs;
  }

  /** The measured tool point, or undefined when the observation does not give a finite one. */
  #tcp(obs: ArrayLike<number>): [number, number, number] | undefined {
    if (obs.length !== this.spec.observation.names.length) return undefined;
    const p = this.#eeObs.map((i) => obs[i]!) as [number, number, number];
    return p.every(Number.isFinite) ? p : undefined;
  }

  /**
   * Hold still. A robot whose target leads the tool point (`targetLead`) would finish that lead on
   * zero deltas (about 2 cm at full speed in sim/panda-lift), so the hold pulls the target back to
   * where the tool point was when the hold began (within the action box per tick), then sends zero.
   */
  #holdAction(obs: ArrayLike<number>): Float32Array {
    const ee = this.#ee;
    if (!ee) return this.#last ? Float32Array.from(this.#last) : this.#rest();
    const out = new Float32Array(this.#dim); // zero motion on every delta entry
    if (ee.gripper) out[ee.gripper.index] = this.gripperCommand!;
    const target = this.#target;
    if (ee.targetLead !== undefined && target) {
      const tcp = this.#tcp(obs);
      if (tcp && !this.#anchor) this.#anchor = Float64Array.from(tcp);
      const anchor = this.#anchor;
      if (anchor) {
        ee.translation.forEach((i, k) => {
          const back = (anchor[k]! - target[k]!) / ee.metresPerUnit;
          out[i] = towardZero(Math.min(this.#high[i]!, Math.max(this.#low[i]!, back)));
        });
      }
    }
    return out;
  }

  /** An absolute robot's hold before any executed action: `rest`, or the box centre. */
  #rest(): Float32Array {
    const rest = this.safety.kind === 'absolute' ? this.safety.rest : undefined;
    const out = new Float32Array(this.#dim);
    for (let i = 0; i < this.#dim; i++) {
      const lo = this.#low[i]!;
      const hi = this.#high[i]!;
      out[i] = roundInto(rest ? rest[i]! : lo + (hi - lo) / 2, lo, hi);
    }
    return out;
  }

  #clamp(proposed: ArrayLike<number>, obs: ArrayLike<number>) {
    const reasons: SafetyReason[] = [];
    const a = Float64Array.from({ length: this.#dim }, (_, i) => proposed[i]!);
    // Per entry, the interval the executed value must lie in (rounded to float32 inside it).
    const lo = Float64Array.from(this.#low);
    const hi = Float64Array.from(this.#high);

    let bounded = false;
    for (let i = 0; i < this.#dim; i++) {
      const c = Math.min(hi[i]!, Math.max(lo[i]!, a[i]!));
      if (c !== a[i]) bounded = true;
      a[i] = c;
    }
    if (bounded) reasons.push('bounds');

    const ee = this.#ee;
    if (!ee) {
      const last = this.#last;
      if (last) {
        let limited = false;
        const d = this.settings.maxDelta;
        for (let i = 0; i < this.#dim; i++) {
          lo[i] = Math.max(lo[i]!, last[i]! - d);
          hi[i] = Math.min(hi[i]!, last[i]! + d);
          const c = Math.min(hi[i]!, Math.max(lo[i]!, a[i]!));
          if (c !== a[i]) limited = true;
          a[i] = c;
        }
        if (limited) reasons.push('delta');
      }
      const out = new Float32Array(this.#dim);
      for (let i = 0; i < this.#dim; i++) out[i] = roundInto(a[i]!, lo[i]!, hi[i]!);
      return { action: out, reasons };
    }

    const t = ee.translation;
    const norm = Math.hypot(a[t[0]]!, a[t[1]]!, a[t[2]]!);
    if (norm > this.#maxStepUnits) {
      const scale = this.#maxStepUnits / norm;
      for (const i of t) a[i] = a[i]! * scale;
      reasons.push('delta');
    }

    const tcp = this.#tcp(obs)!;
    const base = this.#base(tcp);
    const m = ee.metresPerUnit;
    const lead = ee.targetLead === undefined ? undefined : ee.targetLead * m;
    let walled = false;
    for (let k = 0; k < 3; k++) {
      const i = t[k]!;
      const d = a[i]!;
      const low = ee.workspace.low[k]!;
      const high = ee.workspace.high[k]!;
      const next = commanded(base[k]!, d * m, tcp[k]!, lead);
      if (d > 0 && next > high) {
        a[i] = Math.max(0, Math.min(d, (high - base[k]!) / m));
        walled = true;
      } else if (d < 0 && next < low) {
        a[i] = Math.min(0, Math.max(d, (low - base[k]!) / m));
        walled = true;
      }
    }
    if (walled) reasons.push('workspace');

    const out = new Float32Array(this.#dim);
    for (let i = 0; i < this.#dim; i++) out[i] = roundInto(a[i]!, lo[i]!, hi[i]!);
    // A translation the limits shortened is rounded toward zero, so float32 never lengthens it.
    if (reasons.includes('delta') || walled) for (const i of t) out[i] = towardZero(a[i]!);
    return { action: out, reasons };
  }

  /** Where this tick's delta is added: the tracked target, or the measured tool point. */
  #base(tcp: [number, number, number]): ArrayLike<number> {
    return this.#ee?.targetLead === undefined ? tcp : (this.#target ?? tcp);
  }

  /** Remembers what is executed: the action, and the robot's target it moves. */
  #executed(action: Float32Array, obs: ArrayLike<number>): void {
    this.#last = action;
    const ee = this.#ee;
    if (!ee || ee.targetLead === undefined) return;
    const tcp = this.#tcp(obs);
    if (!tcp) return; // unreadable tool point: the tracked target is kept as it was
    const base = this.#target ?? Float64Array.from(tcp);
    const lead = ee.targetLead * ee.metresPerUnit;
    const next = new Float64Array(3);
    for (let k = 0; k < 3; k++) {
      next[k] = commanded(base[k]!, action[ee.translation[k]!]! * ee.metresPerUnit, tcp[k]!, lead);
    }
    this.#target = next;
  }
}

/** The robot's next target on one axis: base + step, kept within `lead` of the tool point. */
function commanded(base: number, step: number, tcp: number, lead: number | undefined): number {
  const moved = base + step;
  return lead === undefined ? moved : Math.max(tcp - lead, Math.min(tcp + lead, moved));
}

function allFinite(a: ArrayLike<number>, n: number): boolean {
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

function emptyStats(): SafetyStats {
  return {
    ticks: 0,
    verdicts: { pass: 0, clamped: 0, held: 0 },
    reasons: Object.fromEntries(SAFETY_REASONS.map((r) => [r, 0])) as Record<SafetyReason, number>,
  };
}

function describeAlarm(
  reasons: SafetyReason[],
  input: SafetyInput,
  staleMs: number,
  dim: number,
): string {
  const parts = reasons.map((r) => {
    switch (r) {
      case 'stale-operator':
        return input.lastOperatorPacketAt === undefined
          ? 'no operator input has arrived'
          : `operator input stale: no packet for ${Math.round(input.now - input.lastOperatorPacketAt)} ms (limit ${staleMs} ms)`;
      case 'missing':
        return `the ${input.source} proposed no action`;
      case 'length':
        return `the ${input.source} proposed ${input.action?.length} entries, the robot takes ${dim}`;
      case 'nan': {
        const a = input.action!;
        const i = Array.from({ length: dim }, (_, k) => k).find((k) => !Number.isFinite(a[k]));
        return `the ${input.source} proposed action[${i}] = ${i === undefined ? '?' : a[i]}`;
      }
      case 'bad-obs':
        return 'the observation has no finite tool point';
      default:
        return r;
    }
  });
  return `${parts.join('; ')}: holding still`;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 next to `f` (a float32 value) toward +∞ (`up`) or −∞. */
function nextF32(f: number, up: boolean): number {
  if (f === 0) return up ? 1.401298464324817e-45 : -1.401298464324817e-45;
  F32[0] = f;
  U32[0] = U32[0]! + (f > 0 === up ? 1 : -1);
  return F32[0]!;
}

/** `x` (inside [lo, hi]) as a float32 inside [lo, hi]. */
function roundInto(x: number, lo: number, hi: number): number {
  let f = Math.fround(x);
  if (f > hi) f = nextF32(f, false);
  if (f < lo) f = nextF32(f, true);
  return f;
}

/** `x` as the float32 nearest to it on zero's side (never of larger magnitude). */
function towardZero(x: number): number {
  const f = Math.fround(x);
  return Math.abs(f) > Math.abs(x) ? nextF32(f, f < 0) : f;
}
