import type Database from 'better-sqlite3';
import { z } from 'zod';
import { parseRow } from './rows.ts';

/** True unless `pid` is known to be gone. Our own pid is alive; one we may not signal (EPERM) too. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // kill(0 or -1) would signal a whole group
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const RunningEpisode = z.object({
  id: z.number().int().positive(),
  run_id: z.number().int().positive(),
  started_at: z.number(),
  writer_pid: z.number().int(),
});

/** What an interrupted episode holds, summed from its kept steps (see INTERRUPTED_TOTALS). */
const InterruptedTotals = z.object({
  id: z.number().int().positive(),
  ended_at: z.number(),
  num_steps: z.number().int().nonnegative(),
  return: z.number(),
  intervened_steps: z.number().int().nonnegative(),
});

/**
 * One row per episode whose id is in the JSON array bound to its `?`: the totals an interrupted
 * episode holds, from the steps it kept (its queued ones died with the writer), and its end, at
 * its last step's time (step t is seconds since the episode started; episode times are epoch
 * ms), or at its start without steps. The writer that marks it and a reader that reports it as
 * marked both take it from here, so the two agree.
 */
const INTERRUPTED_TOTALS = `
  SELECT e.id,
    e.started_at + 1000 * coalesce(
      (SELECT t FROM steps WHERE episode_id = e.id ORDER BY idx DESC LIMIT 1), 0) AS ended_at,
    count(s.idx) AS num_steps, total(s.reward) AS "return",
    CAST(total(s.intervened) AS INTEGER) AS intervened_steps
  FROM episodes AS e LEFT JOIN steps AS s ON s.episode_id = e.id
  WHERE e.id IN (SELECT value FROM json_each(?))
  GROUP BY e.id`;

/** The running episodes (outcome NULL) whose writer process is gone. */
function orphanedEpisodes(
  db: Database.Database,
  isAlive: (pid: number) => boolean,
): z.infer<typeof RunningEpisode>[] {
  return db
    .prepare('SELECT id, run_id, started_at, writer_pid FROM episodes WHERE outcome IS NULL')
    .all()
    .map((raw, i) => parseRow(RunningEpisode, raw, `running episode #${i}`))
    .filter((e) => !isAlive(e.writer_pid));
}

/**
 * Marks `interrupted` every running episode whose writer process is gone, keeping its steps and
 * summing them into the episode; each gets an `episode-interrupted` event. Returns their ids.
 */
export function markInterrupted(
  db: Database.Database,
  isAlive: (pid: number) => boolean = isProcessAlive,
): number[] {
  const orphans = orphanedEpisodes(db, isAlive);
  if (orphans.length === 0) return [];

  const totals = db.prepare(INTERRUPTED_TOTALS);
  const close = db.prepare(`
    UPDATE episodes SET outcome = 'interrupted', ended_at = ?, num_steps = ?, "return" = ?,
      intervened_steps = ?
    WHERE id = ? AND outcome IS NULL`);
  const log = db.prepare(
    `INSERT INTO events (run_id, episode_id, t, kind, payload) VALUES (?, ?, ?, 'episode-interrupted', ?)`,
  );
  const marked: number[] = [];
  db.transaction(() => {
    for (const e of orphans) {
      const sum = parseRow(
        InterruptedTotals,
        totals.get(JSON.stringify([e.id])),
        `steps of episode ${e.id}`,
      );
      // The WHERE re-checks: another process opening the file may have marked it first.
      const changed = close.run(
        sum.ended_at,
        sum.num_steps,
        sum.return,
        sum.intervened_steps,
        e.id,
      );
      if (changed.changes === 0) continue;
      const payload = { writerPid: e.writer_pid, keptSteps: sum.num_steps };
      log.run(e.run_id, e.id, Date.now(), JSON.stringify(payload));
      marked.push(e.id);
    }
  }).immediate();
  return marked;
}

/**
 * The episodes table as a reader should see it, for a query's FROM clause: each running episode
 * whose writer is gone reads as markInterrupted will leave it (outcome `interrupted`, totals and
 * end from its kept steps), in every listing, filter, order and count. The file keeps it running
 * until a writer opens it: a read-only store cannot mark it, and a store that was open when its
 * writer died marked only what was dead at its own open. Without such episodes, the table itself
 * (the common case keeps its indexes).
 */
export function episodesAsRecovered(
  db: Database.Database,
  isAlive: (pid: number) => boolean = isProcessAlive,
): { sql: string; params: string[] } {
  const orphans = orphanedEpisodes(db, isAlive);
  if (orphans.length === 0) return { sql: 'episodes', params: [] };
  const sql = `(
    SELECT e.id, e.run_id, e.task, e.kind, e.seed, e.started_at,
      coalesce(i.ended_at, e.ended_at) AS ended_at,
      CASE WHEN i.id IS NULL THEN e.outcome ELSE 'interrupted' END AS outcome,
      coalesce(i.num_steps, e.num_steps) AS num_steps,
      coalesce(i."return", e."return") AS "return",
      coalesce(i.intervened_steps, e.intervened_steps) AS intervened_steps,
      e.final_obs, e.label, e.notes, e.deleted_at, e.writer_pid, e.trim_start, e.trim_end
    FROM episodes AS e LEFT JOIN (${INTERRUPTED_TOTALS}) AS i ON i.id = e.id
  ) AS episodes`;
  return { sql, params: [JSON.stringify(orphans.map((e) => e.id))] };
}
