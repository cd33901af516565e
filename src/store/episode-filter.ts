import { EpisodeQuery } from '../protocol/index.ts';

/** Which episodes `Store.listEpisodes` returns: the RPC's EpisodeQuery (protocol/rpc.ts). */
export const EpisodeFilter = EpisodeQuery;
export type EpisodeFilter = EpisodeQuery;

const ORDER_BY: Record<NonNullable<EpisodeFilter['order']>, string> = {
  newest: 'started_at DESC, id DESC',
  oldest: 'started_at ASC, id ASC',
  longest: 'num_steps DESC, id DESC',
  return: '"return" DESC, id DESC',
};

export interface SqlPart {
  sql: string;
  params: (string | number)[];
}

/** The WHERE clause (empty when nothing is filtered) for the filter's conditions. */
export function episodeWhere(filter: EpisodeFilter): SqlPart {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (clause: string, value?: string | number) => {
    where.push(clause);
    if (value !== undefined) params.push(value);
  };
  if (filter.runId !== undefined) add('run_id = ?', filter.runId);
  if (filter.task !== undefined) add('task = ?', filter.task);
  if (filter.kind !== undefined) add('kind = ?', filter.kind);
  if (filter.outcome !== undefined) add('outcome = ?', filter.outcome);
  if (filter.intervened !== undefined) {
    add(filter.intervened ? 'intervened_steps > 0' : 'intervened_steps = 0');
  }
  if (filter.label !== undefined) add('label = ?', filter.label);
  if (filter.since !== undefined) add('started_at >= ?', filter.since);
  if (filter.until !== undefined) add('started_at < ?', filter.until);
  if (!filter.includeDeleted) add('deleted_at IS NULL');
  return { sql: where.length ? ` WHERE ${where.join(' AND ')}` : '', params };
}

/** The ORDER BY and LIMIT / OFFSET clauses of the filter. */
export function episodeOrderAndPage(filter: EpisodeFilter): SqlPart {
  const sql = ` ORDER BY ${ORDER_BY[filter.order ?? 'newest']}`;
  if (filter.limit === undefined && filter.offset === undefined) return { sql, params: [] };
  return { sql: `${sql} LIMIT ? OFFSET ?`, params: [filter.limit ?? -1, filter.offset ?? 0] };
}
