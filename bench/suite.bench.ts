// How long the main job takes: the whole built-in suite in compare mode (the goal for the
// demo profile: at most 5 minutes on a 2-core machine). Runs the real command once and
// reports the wall time, and each run's time from its journal.
//
//   npm run bench:suite -- [--profile demo]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { profile: { type: 'string', default: 'demo' } } });
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const out = await mkdtemp(join(tmpdir(), 'chaos-lab-bench-suite-'));
try {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'suite', '--profile', values.profile, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Ctrl-C reaches the suite too (same process group); it stops and cleans up, then so do we.
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wallMs = performance.now() - started;
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as {
    experiments: Array<{ experiment: string; runs: Array<{ mode: string; status: string; journal: string }> }>;
  };
  console.log(`suite, ${values.profile} profile: ${(wallMs / 1000).toFixed(1)} s wall (exit ${code})`);
  for (const experiment of summary.experiments) {
    for (const run of experiment.runs) {
      const journal = JSON.parse(await readFile(join(out, run.journal), 'utf8')) as { durationMs: number; plan: { durationMs: number } };
      console.log(`  ${experiment.experiment.padEnd(14)} ${run.mode.padEnd(10)} ${(journal.durationMs / 1000).toFixed(1).padStart(6)} s (traffic ${(journal.plan.durationMs / 1000).toFixed(0)} s) ${run.status}`);
    }
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
