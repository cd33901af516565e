// The remote learner with real processes on loopback: `tandem learner serve` and `tandem actor`
// children, killed with SIGKILL mid-run. What is checked is what an operator would see: the actor
// keeps its control period through a learner restart and says it lost the learner, and the
// learner's own SQLite file ends up with every transition exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { assertPeriodHeld } from './helpers.ts';
import { killAll, spawnTandem, type Tandem } from './procs.ts';

const home = mkdtempSync(join(tmpdir(), 'tandem-remote-procs-'));
after(() => rmSync(home, { recursive: true, force: true }));

const SMALL = ['--set', 'hidden=[32,32]', '--set', 'batchSize=32'];

/** Each actor's rows in the learner's log: count, distinct sequence numbers, lowest, highest. */
function logOf(db: string): Map<string, { n: number; distinct: number; min: number; max: number }> {
  const d = new Database(db, { readonly: true });
  try {
    const rows = d
      .prepare(
        'SELECT actor, COUNT(*) AS n, COUNT(DISTINCT seq) AS distinct_, MIN(seq) AS min, MAX(seq) AS max FROM received GROUP BY actor',
      )
      .all() as { actor: string; n: number; distinct_: number; min: number; max: number }[];
    return new Map(
      rows.map((r) => [r.actor, { n: r.n, distinct: r.distinct_, min: r.min, max: r.max }]),
    );
  } finally {
    d.close();
  }
}

async function learner(db: string, extra: string[]): Promise<{ p: Tandem; port: number }> {
  const p = spawnTandem(
    ['learner', 'serve', '--db', db, '--checkpoint-every', '2', ...extra],
    home,
  );
  const m = await p.waitFor(/^listening on grpc:\/\/127\.0\.0\.1:(\d+)$/, 90_000);
  return { p, port: Number(m[1]) };
}

describe('remote learner processes', () => {
  it('a learner killed with SIGKILL and resumed: the actor keeps ticking, raises the alarm, reconnects, and every transition lands once', async () => {
    const db = join(home, 'kill-learner.db');
    let l: Tandem | undefined;
    let l2: Tandem | undefined;
    let a: Tandem | undefined;
    try {
      const first = await learner(db, ['--task', 'probe', '--port', '0', ...SMALL]);
      l = first.p;
      const url = `grpc://127.0.0.1:${first.port}`;
      const STEPS = 400;
      a = spawnTandem(
        [
          'actor',
          '--learner',
          url,
          '--task',
          'probe',
          '--id',
          'arm-1',
          '--rate',
          '20',
          '--env-steps',
          String(STEPS),
          '--db',
          join(home, 'arm-1.db'),
        ],
        home,
      );
      // Running and trained on for a while (weights in use), then the learner dies.
      const before = await a.waitProgress((p) => p.progress >= 120 && p.policyVersion > 0, 90_000);
      l.proc.kill('SIGKILL');
      await l.exited;
      const lost = await a.waitProgress((p) => !p.connected, 10_000);
      // The actor goes on ticking while the learner is away.
      await a.waitProgress((p) => !p.connected && p.progress >= lost.progress + 40, 10_000);
      l2 = spawnTandem(
        [
          'learner',
          'serve',
          '--db',
          db,
          '--resume',
          '1',
          '--port',
          String(first.port),
          '--checkpoint-every',
          '2',
        ],
        home,
      );
      await l2.waitFor(/^listening on /, 90_000);
      assert.equal(await a.exited, 0, a.output());
      const out = a.output();
      assert.match(out, /ALARM learner lost: /);
      assert.match(out, /learner up: the learner restarted; resending from its last stored row/);
      assert.match(
        out,
        new RegExp(`actor arm-1: ${STEPS} transitions sent, ${STEPS} stored by the learner`),
      );
      const progress = a.progress();
      const outage = progress.filter((p) => !p.connected);
      assert.ok(outage.length >= 2, 'progress lines while the learner was away');
      // The control period held through it all (p99 over the last 10 s of ticks at each line),
      // no tick missed. A loop that waited on the network would show the calls' deadlines (5 s).
      console.log(
        `# ${a.lines.find((x) => x.includes('control thread:'))?.trim()}; period error p99 at each line (* learner away): ${progress.map((p) => p.periodErrorP99?.toFixed(2) + (p.connected ? '' : '*')).join(' ')}`,
      );
      assertPeriodHeld(
        progress.filter((p) => p.at > before.at).map((p) => p.periodErrorP99 ?? Infinity),
        ` (before the kill: ${before.periodErrorP99} ms)`,
      );
      assert.ok(
        progress.every((p) => (p.missed ?? 0) === 0),
        'no tick missed',
      );
      const resumed = await l2.waitFor(
        /buffers refilled from the log: (\d+) transitions \((\d+) at the checkpoint\)/,
      );
      assert.ok(Number(resumed[1]) >= lost.acked, resumed[0]);
      l2.proc.kill('SIGTERM');
      assert.equal(await l2.exited, 0, l2.output());
      assert.deepEqual(logOf(db).get('arm-1'), { n: STEPS, distinct: STEPS, min: 1, max: STEPS });
    } finally {
      killAll(l, l2, a);
    }
  });

  it('an actor killed with SIGKILL: the learner trains on the others’ data; restarted, it continues its stream', async () => {
    const db = join(home, 'kill-actor.db');
    let l: Tandem | undefined;
    let a1: Tandem | undefined;
    let a2: Tandem | undefined;
    let a1b: Tandem | undefined;
    try {
      const started = await learner(db, ['--task', 'probe', '--port', '0', ...SMALL]);
      l = started.p;
      const url = `grpc://127.0.0.1:${started.port}`;
      const actor = (id: string, steps: number) =>
        spawnTandem(
          [
            'actor',
            '--learner',
            url,
            '--task',
            'probe',
            '--id',
            id,
            '--env-steps',
            String(steps),
            '--random-steps',
            '50',
            '--db',
            join(home, `${id}.db`),
          ],
          home,
        );
      a1 = actor('sim-1', 1_000_000);
      a2 = actor('sim-2', 1_000_000);
      await a1.waitProgress((p) => p.acked >= 100, 90_000);
      await a2.waitProgress((p) => p.acked >= 100, 90_000);
      a1.proc.kill('SIGKILL');
      await a1.exited;
      const killedAt = logOf(db).get('sim-1')!.n;
      const from = a2.progress().at(-1)!;
      await a2.waitProgress((p) => p.at > from.at + 2000, 10_000);
      const later = a2.progress().at(-1)!;
      assert.ok(
        later.learnerSteps >= from.learnerSteps + 50,
        `learner steps ${from.learnerSteps} → ${later.learnerSteps}`,
      );
      assert.ok(later.acked > from.acked, 'sim-2 still feeds it');
      assert.equal(logOf(db).get('sim-1')!.n, killedAt, 'nothing more from the killed actor');
      // The same actor id again: its stream resumes after what the learner stored.
      a1b = actor('sim-1', 200);
      await a1b.waitFor(new RegExp(`this actor's stream at ${killedAt}$`), 90_000);
      assert.equal(await a1b.exited, 0, a1b.output());
      assert.deepEqual(logOf(db).get('sim-1'), {
        n: killedAt + 200,
        distinct: killedAt + 200,
        min: 1,
        max: killedAt + 200,
      });
      a2.proc.kill('SIGTERM');
      assert.equal(await a2.exited, 0, a2.output());
      l.proc.kill('SIGTERM');
      assert.equal(await l.exited, 0, l.output());
      assert.match(
        l.output(),
        /transitions received, learner step \d+; continue with: tandem learner serve --resume 1/,
      );
    } finally {
      killAll(l, a1, a2, a1b);
    }
  });
});
