/**
 * A progress bar on stderr: redrawn in place on a terminal, one line per 10 % elsewhere (CI logs).
 */
export class ProgressBar {
  readonly #total: number;
  readonly #label: string;
  readonly #tty = process.stderr.isTTY === true;
  readonly #start = performance.now();
  #lastDecile = -1;

  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = total;
  }

  update(done: number, detail = ''): void {
    const fraction = this.#total === 0 ? 1 : done / this.#total;
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.#total - done) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const line =
      `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.#total}` +
      ` ${elapsed.toFixed(1)}s${done < this.#total ? ` eta ${eta.toFixed(0)}s` : ''}${detail ? `  ${detail}` : ''}`;
    if (this.#tty) {
      process.stderr.write(`\r\x1b[2K${line}${done >= this.#total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile > this.#lastDecile) {
      this.#lastDecile = decile;
      process.stderr.write(`${line}\n`);
    }
  }
}
