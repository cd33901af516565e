import { ZodError } from 'zod';
import { ActionError } from '../robots/robot.ts';
import { UnknownTaskError } from '../robots/index.ts';
import { Ros2ConfigError, Ros2ConnectError, Ros2UnavailableError } from '../robots/ros2/index.ts';
import { LearnerServeError } from '../learner/remote/server.ts';
import { WireError } from '../learner/remote/wire.ts';
import { defaultDataDir, StoreError } from '../store/index.ts';
import { type Command, UsageError } from './args.ts';
import { actor } from './commands/actor.ts';
import { doctor } from './commands/doctor.ts';
import { episodes } from './commands/episodes.ts';
import { learner } from './commands/learner.ts';
import { record } from './commands/record.ts';
import { replay } from './commands/replay.ts';
import { serve } from './commands/serve.ts';
import { start } from './commands/start.ts';
import { train } from './commands/train.ts';

const commands: Command[] = [record, train, episodes, replay, serve, start, learner, actor, doctor];

function help(): string {
  return `Usage: tandem COMMAND [options]   (tandem COMMAND --help for each)

Commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Data: every command takes --db PATH; without it the database is
  ${defaultDataDir()}/tandem.db
  (set TANDEM_HOME to move the data folder; XDG_DATA_HOME is honoured).`;
}

/** One line for the user: what went wrong. The stack only with TANDEM_DEBUG=1. */
function describe(err: unknown): { message: string; code: number } {
  if (err instanceof UsageError) return { message: `${err.message} (see --help)`, code: 2 };
  if (err instanceof ZodError) {
    const issue = err.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { message: `invalid ${where}${issue.message}`, code: 2 };
  }
  if (
    err instanceof StoreError ||
    err instanceof LearnerServeError ||
    err instanceof WireError ||
    err instanceof UnknownTaskError ||
    err instanceof ActionError ||
    err instanceof Ros2UnavailableError ||
    err instanceof Ros2ConfigError ||
    err instanceof Ros2ConnectError
  ) {
    return { message: err.message, code: 1 };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: `${message.split('\n')[0]} (TANDEM_DEBUG=1 shows the stack)`, code: 1 };
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  await command.run(rest);
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  if (process.env.TANDEM_DEBUG) console.error(err);
  const { message, code } = describe(err);
  console.error(`tandem: ${message}`);
  process.exitCode = code;
}
