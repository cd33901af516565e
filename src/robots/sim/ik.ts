import type { MainModule, MjData, MjModel } from 'mujoco-js';
import { solveInPlace } from './linalg.ts';

const TASK_DIM = 6; // position (3) and orientation (3) of the site

export interface IkOptions {
  /** Arm joints driven by IK: their dof indices are 0 … armDofs−1 and qpos indices the same. */
  armDofs: number;
  site: number;
  /** Damping λ of the least-squares step; larger is smoother near singularities. */
  damping: number;
  iterations: number;
  /** Gain of the null-space pull toward the rest posture (keeps the redundant joint from drifting). */
  nullGain: number;
  rest: readonly number[];
}

/**
 * Damped least-squares IK on MuJoCo's own site Jacobian (`mj_jacSite`), run on a private MjData so
 * the simulated state is never touched: q ← q + Jᵀ(JJᵀ + λ²I)⁻¹e + (I − J⁺J)·k(q_rest − q).
 */
export class SiteIk {
  readonly #mj: MainModule;
  readonly #model: MjModel;
  readonly #data: MjData;
  readonly #opts: IkOptions;
  readonly #jacp;
  readonly #jacr;
  readonly #low: Float64Array;
  readonly #high: Float64Array;
  // Scratch, allocated once: the hot path allocates nothing.
  readonly #j: Float64Array;
  readonly #a = new Float64Array(TASK_DIM * TASK_DIM);
  readonly #e = new Float64Array(TASK_DIM);
  readonly #w = new Float64Array(TASK_DIM);
  readonly #z: Float64Array;

  constructor(mj: MainModule, model: MjModel, opts: IkOptions) {
    this.#mj = mj;
    this.#model = model;
    this.#data = new mj.MjData(model);
    this.#opts = opts;
    this.#jacp = new mj.DoubleBuffer(3 * model.nv);
    this.#jacr = new mj.DoubleBuffer(3 * model.nv);
    const range = model.jnt_range as Float64Array;
    this.#low = new Float64Array(opts.armDofs);
    this.#high = new Float64Array(opts.armDofs);
    for (let i = 0; i < opts.armDofs; i++) {
      this.#low[i] = range[2 * i]!;
      this.#high[i] = range[2 * i + 1]!;
    }
    this.#j = new Float64Array(TASK_DIM * opts.armDofs);
    this.#z = new Float64Array(opts.armDofs);
  }

  /**
   * Moves `q` (arm joint positions, updated in place) toward putting the site at `pos` with
   * rotation `rot` (row-major 3×3). Returns the remaining position error in metres.
   */
  solve(q: Float64Array, pos: ArrayLike<number>, rot: ArrayLike<number>): number {
    const { armDofs: n, damping, iterations, nullGain, rest, site } = this.#opts;
    const mj = this.#mj;
    const j = this.#j;
    const a = this.#a;
    const e = this.#e;
    const w = this.#w;
    const z = this.#z;
    let posError = Infinity;
    for (let it = 0; it <= iterations; it++) {
      const qpos = this.#data.qpos as Float64Array;
      qpos.set(q);
      mj.mj_kinematics(this.#model, this.#data);
      mj.mj_comPos(this.#model, this.#data);
      const xpos = this.#data.site_xpos as Float64Array;
      const xmat = this.#data.site_xmat as Float64Array;
      const p = 3 * site;
      const m = 9 * site;
      e[0] = pos[0]! - xpos[p]!;
      e[1] = pos[1]! - xpos[p + 1]!;
      e[2] = pos[2]! - xpos[p + 2]!;
      posError = Math.hypot(e[0], e[1], e[2]);
      if (it === iterations) break;
      // Orientation error: ½ Σ_i current_col_i × desired_col_i.
      e[3] = e[4] = e[5] = 0;
      for (let c = 0; c < 3; c++) {
        const ux = xmat[m + c]!,
          uy = xmat[m + 3 + c]!,
          uz = xmat[m + 6 + c]!;
        const vx = rot[c]!,
          vy = rot[3 + c]!,
          vz = rot[6 + c]!;
        e[3] += 0.5 * (uy * vz - uz * vy);
        e[4] += 0.5 * (uz * vx - ux * vz);
        e[5] += 0.5 * (ux * vy - uy * vx);
      }
      mj.mj_jacSite(this.#model, this.#data, this.#jacp, this.#jacr, site);
      const nv = this.#model.nv;
      const jp = this.#jacp.GetView() as Float64Array;
      const jr = this.#jacr.GetView() as Float64Array;
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < n; c++) {
          j[r * n + c] = jp[r * nv + c]!;
          j[(r + 3) * n + c] = jr[r * nv + c]!;
        }
      }
      // A = J Jᵀ + λ² I
      for (let r = 0; r < TASK_DIM; r++) {
        for (let c = r; c < TASK_DIM; c++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += j[r * n + k]! * j[c * n + k]!;
          a[r * TASK_DIM + c] = a[c * TASK_DIM + r] = s;
        }
        a[r * TASK_DIM + r]! += damping * damping;
      }
      // Null-space pull z = k(q_rest − q); w = J z − e, so that dq = z − Jᵀ A⁻¹ (J z − e).
      for (let k = 0; k < n; k++) z[k] = nullGain * (rest[k]! - q[k]!);
      for (let r = 0; r < TASK_DIM; r++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += j[r * n + k]! * z[k]!;
        w[r] = s - e[r]!;
      }
      solveInPlace(a, w, TASK_DIM);
      for (let k = 0; k < n; k++) {
        let s = 0;
        for (let r = 0; r < TASK_DIM; r++) s += j[r * n + k]! * w[r]!;
        q[k] = Math.min(this.#high[k]!, Math.max(this.#low[k]!, q[k]! + z[k]! - s));
      }
    }
    return posError;
  }

  delete(): void {
    this.#jacp.delete();
    this.#jacr.delete();
    this.#data.delete();
  }
}
