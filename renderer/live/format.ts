/** `part / whole` as a percentage, or an en dash when there is no whole. */
export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return '–';
  return `${((100 * part) / whole).toFixed(part === whole || part === 0 ? 0 : 1)}%`;
}

/** Milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** A count with thin grouping (12 345). */
export function count(value: number): string {
  return value.toLocaleString('en-US').replace(/,/g, '\u2009');
}
