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

const KeptSteps = z.object({
  n: z.number().int().nonnegative(),
  ret: z.number(),
  intervened: z.number().int().nonnegative(),
  last_t: z.number().nullable(),
});

/**
 * Marks `interrupted` every running episode whose writer process is gone, keeping its steps and
 * summing them into the episode; each gets an `episode-interrupted` event. Returns their ids.
 */
export function markInterrupted(
  db: Database.Database,
  isAlive: (pid: number) => boolean = isProcessAlive,
): number[] {
  const running = db
    .prepare('SELECT id, run_id, started_at, writer_pid FROM episodes WHERE outcome IS NULL')
    .all()
    .map((raw, i) => parseRow(RunningEpisode, raw, `running episode #${i}`));
  const orphans = running.filter((e) => !isAlive(e.writer_pid));
  if (orphans.length === 0) return [];

  const kept = db.prepare(`
    SELECT count(*) AS n, total(reward) AS ret, CAST(total(intervened) AS INTEGER) AS intervened,
      (SELECT t FROM steps WHERE episode_id = ? ORDER BY idx DESC LIMIT 1) AS last_t
    FROM steps WHERE episode_id = ?`);
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
      const steps = parseRow(KeptSteps, kept.get(e.id, e.id), `steps of episode ${e.id}`);
      // Step t is seconds since the episode started; episode times are epoch ms.
      const endedAt = e.started_at + 1000 * (steps.last_t ?? 0);
      // The WHERE re-checks: another process opening the file may have marked it first.
      if (close.run(endedAt, steps.n, steps.ret, steps.intervened, e.id).changes === 0) continue;
      const payload = { writerPid: e.writer_pid, keptSteps: steps.n };
      log.run(e.run_id, e.id, Date.now(), JSON.stringify(payload));
      marked.push(e.id);
    }
  }).immediate();
  return marked;
}
