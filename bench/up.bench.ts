// How long `chaos-lab up` takes, from the command to a healthy fleet answering through the
// load balancer (the goal: under 10 s on a 2-core machine). Runs the real command N times,
// stops each lab with `chaos-lab down`.
//
//   npm run bench:up -- [--runs 3]
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

async function once(): Promise<{ readyMs: number; reported: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'chaos-lab-bench-up-'));
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'up', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let output = '';
    const readyMs = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready:')) resolve(performance.now() - started);
      });
      child.once('exit', () => reject(new Error(`chaos-lab up exited:\n${output}`)));
    });
    const reported = /\[([\d.]+ s)\] ready/.exec(output)?.[1] ?? '?';
    await promisify(execFile)(process.execPath, [CLI, 'down', '--dir', dir]);
    await new Promise((resolve) => child.once('exit', resolve));
    return { readyMs, reported };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

const results: number[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  const { readyMs, reported } = await once();
  results.push(readyMs);
  console.log(`run ${i + 1}: ${(readyMs / 1000).toFixed(2)} s from the command to a fleet answering through the load balancer (up reported ${reported} after its start)`);
}
results.sort((a, b) => a - b);
console.log(`median ${(results[Math.floor(results.length / 2)]! / 1000).toFixed(2)} s, worst ${(results.at(-1)! / 1000).toFixed(2)} s (goal: under 10 s)`);
