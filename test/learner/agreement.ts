import assert from 'node:assert/strict';

/** How far a native learner's variables are from the TypeScript one's after the same updates. */
export interface Agreement {
  /** max |native − TS| over every element, and max of it / |TS| (elements with |TS| ≥ 1e-3). */
  maxAbs: number;
  maxRel: number;
  /** Elements outside atol + rtol·|TS|, and the first of them. */
  outside: number;
  worst: string;
  /** max over variables of ‖native − TS‖ / ‖TS − start‖ (how far apart, against how far trained), and that variable. */
  drift: number;
  driftOf: string;
}

/** Compares named variables element by element; the names and sizes must match. */
export function agreement(
  native: [string, Float32Array][],
  ts: [string, Float32Array][],
  start: [string, Float32Array][],
  atol: number,
  rtol: number,
): Agreement {
  assert.deepEqual(
    native.map(([name, x]) => [name, x.length]),
    ts.map(([name, x]) => [name, x.length]),
    'the same variables',
  );
  const a: Agreement = { maxAbs: 0, maxRel: 0, outside: 0, worst: '', drift: 0, driftOf: '' };
  ts.forEach(([name, t], k) => {
    const n = native[k]![1];
    const s = start[k]![1];
    let apart = 0;
    let moved = 0;
    for (let i = 0; i < t.length; i++) {
      const d = Math.abs(n[i]! - t[i]!);
      a.maxAbs = Math.max(a.maxAbs, d);
      if (Math.abs(t[i]!) >= 1e-3) a.maxRel = Math.max(a.maxRel, d / Math.abs(t[i]!));
      if (!(d <= atol + rtol * Math.abs(t[i]!))) {
        if (a.outside === 0) a.worst = `${name}[${i}]: native ${n[i]}, TS ${t[i]}`;
        a.outside++;
      }
      apart += d * d;
      moved += (t[i]! - s[i]!) ** 2;
    }
    const drift = moved > 0 ? Math.sqrt(apart / moved) : apart > 0 ? Infinity : 0;
    if (drift > a.drift) [a.drift, a.driftOf] = [drift, name];
  });
  return a;
}

export const formatAgreement = (a: Agreement) =>
  `max abs ${a.maxAbs.toExponential(2)}, max rel ${a.maxRel.toExponential(2)}, ` +
  `‖Δ‖/‖θ − θ₀‖ ${a.drift.toExponential(2)} (${a.driftOf})`;
