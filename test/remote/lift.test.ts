// Two actor processes and one learner process train sim/panda-lift together, through the real
// CLI on loopback: `tandem record` 20 scripted demos, `tandem learner serve` (the preset's
// 10-critic learner, sac+bc), one actor that sends the demos and evaluates, one sim copy more.
// Both keep one learner step per online transition (data-paced); the run stops at the first
// evaluation (20 episodes, mean action) with at least 80 % success.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { tandem } from '../cli/helpers.ts';
import { killAll, spawnTandem, type Tandem } from './procs.ts';

const home = mkdtempSync(join(tmpdir(), 'tandem-remote-lift-'));
after(() => rmSync(home, { recursive: true, force: true }));

it('two actors and one learner lift the cube in ≥ 80 % of evaluation episodes', async () => {
  const demos = join(home, 'demos.db');
  const rec = tandem(
    ['record', '--task', 'sim/panda-lift', '--episodes', '20', '--seed', '0', '--db', demos],
    home,
  );
  assert.equal(rec.code, 0, rec.stderr);
  let l: Tandem | undefined;
  let a1: Tandem | undefined;
  let a2: Tandem | undefined;
  try {
    l = spawnTandem(
      [
        'learner',
        'serve',
        '--task',
        'sim/panda-lift',
        '--port',
        '0',
        '--set',
        'actorLoss=sac+bc',
        '--db',
        join(home, 'learner.db'),
      ],
      home,
    );
    const port = (await l.waitFor(/^listening on grpc:\/\/127\.0\.0\.1:(\d+)$/, 90_000))[1];
    const url = `grpc://127.0.0.1:${port}`;
    const started = Date.now();
    a2 = spawnTandem(
      [
        'actor',
        '--learner',
        url,
        '--task',
        'sim/panda-lift',
        '--id',
        'sim-2',
        '--seed',
        '7',
        '--env-steps',
        '12000',
        '--db',
        join(home, 'a2.db'),
      ],
      home,
    );
    a1 = spawnTandem(
      [
        'actor',
        '--learner',
        url,
        '--task',
        'sim/panda-lift',
        '--id',
        'sim-1',
        '--demos',
        demos,
        '--eval-every',
        '1000',
        '--eval-episodes',
        '20',
        '--stop-at',
        '0.8',
        '--env-steps',
        '12000',
        '--db',
        join(home, 'a1.db'),
      ],
      home,
    );
    assert.equal(await a1.exited, 0, a1.output());
    const evals = a1.lines.filter((x) => x.startsWith('eval at '));
    const last = /success (\d+)%/.exec(evals.at(-1) ?? '');
    console.log(`# ${evals.join('; ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`);
    assert.ok(last && Number(last[1]) >= 80, `evaluations: ${evals.join('; ')}`);
    // Both actors fed it: the other one's rows are in the learner's log too.
    const a2Line = a2.progress().at(-1);
    assert.ok(a2Line && a2Line.acked > 500, `sim-2 stored ${a2Line?.acked}`);
    a2.proc.kill('SIGTERM');
    assert.equal(await a2.exited, 0, a2.output());
    l.proc.kill('SIGTERM');
    assert.equal(await l.exited, 0, l.output());
    assert.match(l.output(), /transitions received, learner step \d+; continue with/);
  } finally {
    killAll(l, a1, a2);
  }
});
