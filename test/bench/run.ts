// `npm run bench -- NAME…` runs the named benchmarks (all when none), prints their tables and
// records them in docs/BENCHMARKS.md. Figures are medians over repeats: the machines are shared.
// `--quick` (or TANDEM_BENCH_QUICK=1) runs the benches that have one on a tiny budget to check
// their code, and prints without saving.
import { fileURLToPath } from 'node:url';
import { type BenchResult, machine, saveSection, toMarkdown } from './harness.ts';
import { benchFrame } from './frame.ts';
import { benchHil } from './hil.ts';
import { benchLearner } from './learner.ts';
import { benchLift } from './lift.ts';
import { benchLoop } from './loop.ts';
import { benchNativeCritic } from './native-critic.ts';
import { benchProbe } from './probe.ts';
import { benchRecord } from './record.ts';
import { benchRemote } from './remote.ts';
import { benchXr } from './xr.ts';

const quick = process.argv.includes('--quick') || Boolean(process.env.TANDEM_BENCH_QUICK);
const benches: Record<string, () => Promise<BenchResult>> = {
  record: () => benchRecord(),
  learner: () => benchLearner(),
  'native-critic': () => benchNativeCritic({ quick }),
  probe: () => benchProbe({ quick }),
  lift: () => benchLift({ quick }),
  loop: () => benchLoop({ quick }),
  hil: () => benchHil({ quick }),
  frame: () => benchFrame({ quick }),
  xr: () => benchXr({ quick }),
  remote: () => benchRemote({ quick }),
};

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; benchmarks: ${Object.keys(benches).join(', ')}`,
  );
  process.exit(2);
}
const doc = fileURLToPath(new URL('../../docs/BENCHMARKS.md', import.meta.url));
console.log(`machine: ${machine()}`);
for (const name of names.length > 0 ? names : Object.keys(benches)) {
  console.log(`\nrunning ${name}…`);
  const markdown = toMarkdown(await benches[name]!());
  console.log(markdown);
  if (!quick) saveSection(doc, name, markdown);
}
console.log(quick ? 'quick mode: not saved' : `saved to ${doc}`);
