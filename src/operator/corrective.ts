/** What the corrective operator drives with: a task's scripted expert (robots' createExpert). */
export interface Expert {
  reset(): void;
  act(obs: ArrayLike<number>): number[];
}

export interface CorrectiveOptions {
  /** Take over when the smoothed disagreement (RMS over action entries) exceeds this. */
  takeOver: number;
  /** Hand back when it has fallen below this while the expert drives… */
  handBack: number;
  /** …and the expert has driven at least this many ticks. */
  minSteps: number;
  /** Weight of the newest tick in the smoothed disagreement. */
  smoothing: number;
}

export const DEFAULT_CORRECTIVE: CorrectiveOptions = {
  takeOver: 0.5,
  handBack: 0.2,
  minSteps: 5,
  smoothing: 0.3,
};

export interface CorrectiveDecision {
  /** Whether the scripted operator wants to drive now. */
  intervene: boolean;
  /** The expert's action for this observation (what it drives with). */
  action: number[];
  /** The smoothed disagreement between the policy's proposal and the expert's action. */
  disagreement: number;
}

/**
 * A stand-in for the human who corrects the policy: the task's scripted expert watches every tick,
 * compares the policy's proposal with its own action, takes over when the policy strays from its
 * plan (the smoothed disagreement passes `takeOver`: e.g. the end-effector heading elsewhere or
 * the gripper opening on the cube) and hands back once the policy's proposals agree again. With it,
 * the whole human-in-the-loop cycle runs headless.
 */
export class CorrectiveOperator {
  readonly #expert: Expert;
  readonly #o: CorrectiveOptions;
  #smoothed = 0;
  #driving = false;
  #drivenSteps = 0;
  #takeovers = 0;

  constructor(expert: Expert, options: Partial<CorrectiveOptions> = {}) {
    this.#expert = expert;
    this.#o = { ...DEFAULT_CORRECTIVE, ...options };
    if (!(this.#o.handBack < this.#o.takeOver)) {
      throw new RangeError('the hand-back threshold must be below the take-over threshold');
    }
  }

  /** How many times it has taken over since construction. */
  get takeovers(): number {
    return this.#takeovers;
  }

  reset(): void {
    this.#expert.reset();
    this.#smoothed = 0;
    this.#driving = false;
    this.#drivenSteps = 0;
  }

  /** Decides for this tick, given the observation and the policy's proposal for it. */
  decide(obs: ArrayLike<number>, proposal: ArrayLike<number> | undefined): CorrectiveDecision {
    const action = this.#expert.act(obs);
    if (proposal) {
      let sum = 0;
      for (let i = 0; i < action.length; i++) sum += (proposal[i]! - action[i]!) ** 2;
      const rms = Math.sqrt(sum / action.length);
      this.#smoothed += this.#o.smoothing * (rms - this.#smoothed);
    }
    if (!this.#driving && (proposal === undefined || this.#smoothed > this.#o.takeOver)) {
      this.#driving = true;
      this.#drivenSteps = 0;
      this.#takeovers++;
    } else if (
      this.#driving &&
      proposal !== undefined &&
      this.#drivenSteps >= this.#o.minSteps &&
      this.#smoothed < this.#o.handBack
    ) {
      this.#driving = false;
    }
    if (this.#driving) this.#drivenSteps++;
    return { intervene: this.#driving, action, disagreement: this.#smoothed };
  }
}
