import { writeFileSync } from 'node:fs';
import { EpisodeFilter } from '../../store/index.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import { openStore, printTable } from '../common.ts';

const usage = `
Usage: tandem episodes list [filters] [--db PATH] [--json]
       tandem episodes show ID [--db PATH]
       tandem episodes export ID --format json [--out FILE] [--db PATH]

list filters:
  --run ID  --task TASK  --kind demo|train|eval  --outcome success|failure|timeout|interrupted|discarded
  --intervened yes|no  --deleted (include soft-deleted)  --order newest|oldest|longest|return
  --limit N (default 50)
`;

function episodeId(positionals: string[]): number {
  const raw = positionals[1];
  if (raw === undefined) throw new UsageError('an episode ID is required');
  const id = Number(raw);
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`episode ID must be a positive whole number, got "${raw}"`);
  return id;
}

function time(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export const episodes: Command = {
  name: 'episodes',
  summary: 'list, show or export recorded episodes',
  usage,
  async run(argv) {
    const args = parse(
      argv,
      {
        db: { type: 'string' },
        json: { type: 'boolean' },
        run: { type: 'string' },
        task: { type: 'string' },
        kind: { type: 'string' },
        outcome: { type: 'string' },
        intervened: { type: 'string' },
        deleted: { type: 'boolean' },
        order: { type: 'string' },
        limit: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
      },
      usage,
      true,
    );
    if (!args) return;
    const { values, positionals } = args;
    const sub = positionals[0];
    if (sub !== 'list' && sub !== 'show' && sub !== 'export') {
      throw new UsageError(`unknown subcommand "${sub ?? ''}"; use list, show or export`);
    }
    const store = openStore(values.db, true);
    try {
      if (sub === 'list') {
        if (values.intervened !== undefined && !['yes', 'no'].includes(values.intervened)) {
          throw new UsageError('--intervened must be yes or no');
        }
        const filter = EpisodeFilter.safeParse({
          runId: values.run === undefined ? undefined : intFlag('run', values.run, 0, 1),
          task: values.task,
          kind: values.kind,
          outcome: values.outcome,
          intervened: values.intervened === undefined ? undefined : values.intervened === 'yes',
          includeDeleted: values.deleted,
          order: values.order,
          limit: intFlag('limit', values.limit, 50),
        });
        if (!filter.success) {
          const issue = filter.error.issues[0]!;
          throw new UsageError(`--${String(issue.path[0])}: ${issue.message}`);
        }
        const list = store.listEpisodes(filter.data);
        if (values.json) {
          console.log(JSON.stringify(list, null, 2));
          return;
        }
        if (list.length === 0) {
          console.log(`no episodes in ${store.path}`);
          return;
        }
        printTable([
          [
            'id',
            'run',
            'task',
            'kind',
            'outcome',
            'steps',
            'return',
            'intervened',
            'label',
            'started',
          ],
          ...list.map((e) => [
            String(e.id),
            String(e.runId),
            e.task,
            e.kind,
            e.outcome ?? 'running',
            String(e.numSteps),
            e.return.toFixed(2),
            String(e.intervenedSteps),
            e.label ?? '-',
            time(e.startedAt),
          ]),
        ]);
        return;
      }
      const id = episodeId(positionals);
      const episode = store.getEpisode(id);
      if (!episode) throw new UsageError(`no episode ${id} in ${store.path}`);
      const run = store.getRun(episode.runId);
      if (sub === 'show') {
        console.log(
          `episode ${episode.id} (run ${episode.runId}, ${episode.kind}, seed ${episode.seed})`,
        );
        console.log(
          `  task      ${episode.task} ${JSON.stringify(run?.config.task.options ?? {})}`,
        );
        console.log(
          `  outcome   ${episode.outcome ?? 'running'}${episode.label ? `, labelled ${episode.label}` : ''}`,
        );
        console.log(
          `  steps     ${episode.numSteps} (${episode.intervenedSteps} intervened), return ${episode.return.toFixed(3)}`,
        );
        console.log(`  started   ${time(episode.startedAt)}, ended ${time(episode.endedAt)}`);
        if (run) {
          console.log(`  obs       ${run.spec.observation.names.join(' ')}`);
          console.log(`  action    ${run.spec.action.names.join(' ')}`);
          console.log(`  recorded  by tandem ${run.codeVersion ?? '?'} (${run.command})`);
        }
        if (episode.notes) console.log(`  notes     ${episode.notes}`);
        return;
      }
      if (values.format !== 'json') {
        throw new UsageError(
          `--format json is required (the only export format), got "${values.format ?? ''}"`,
        );
      }
      const text = JSON.stringify({ episode, run, steps: store.readSteps(id) });
      if (values.out) {
        writeFileSync(values.out, text);
        console.error(`episode ${id}: ${episode.numSteps} steps written to ${values.out}`);
      } else {
        process.stdout.write(`${text}\n`);
      }
    } finally {
      store.close();
    }
  },
};
