// Does `chaos-lab up` end every time? Runs N up → down cycles and M up → SIGTERM cycles in a
// row; each must exit within 15 s of being asked and leave none of its processes behind.
// The goal (issue 13): 20 + 10 cycles, every one clean. The test suite runs three.
//
//   npm run bench:cycles -- [--down 20] [--sigterm 10]
import { parseArgs } from 'node:util';
import { upCycle, type CycleResult } from '../test/helpers/lab-cycle.ts';

const { values } = parseArgs({ options: { down: { type: 'string', default: '20' }, sigterm: { type: 'string', default: '10' } } });
const plan: Array<'down' | 'SIGTERM'> = [
  ...Array.from({ length: Number(values.down) }, () => 'down' as const),
  ...Array.from({ length: Number(values.sigterm) }, () => 'SIGTERM' as const),
];

const seconds = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);
const failures: string[] = [];
const exits: Record<string, number[]> = { down: [], SIGTERM: [] };
for (const [index, stopBy] of plan.entries()) {
  let cycle: CycleResult;
  try {
    cycle = await upCycle(stopBy);
  } catch (error) {
    failures.push(`cycle ${index + 1} (${stopBy}): ${(error as Error).message}`);
    console.log(`cycle ${index + 1}/${plan.length} ${stopBy}: FAILED ${(error as Error).message.split('\n')[0]}`);
    continue;
  }
  const clean = cycle.exitMs !== null && cycle.exit === 0 && cycle.leftovers.length === 0;
  if (cycle.exitMs !== null) exits[stopBy]!.push(cycle.exitMs);
  if (!clean) failures.push(`cycle ${index + 1} (${stopBy}): exit ${String(cycle.exit)} after ${seconds(cycle.exitMs)}, leftovers ${cycle.leftovers.join(',') || 'none'}`);
  console.log(`cycle ${index + 1}/${plan.length} ${stopBy}: ready in ${seconds(cycle.readyMs)}, exited (${String(cycle.exit)}) ${seconds(cycle.exitMs)} after the stop, leftovers ${cycle.leftovers.length}${clean ? '' : '  <-- NOT CLEAN'}`);
}
for (const [stopBy, times] of Object.entries(exits)) {
  if (times.length === 0) continue;
  times.sort((a, b) => a - b);
  console.log(`${stopBy}: ${times.length} exits, median ${seconds(times[Math.floor(times.length / 2)]!)}, worst ${seconds(times.at(-1)!)}`);
}
console.log(failures.length === 0 ? `all ${plan.length} cycles clean (goal: every one exits within 15 s, nothing left running)` : `${failures.length} of ${plan.length} cycles not clean:\n${failures.join('\n')}`);
process.exit(failures.length === 0 ? 0 : 1);
