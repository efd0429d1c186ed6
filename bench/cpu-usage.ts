// CPU time of groups of processes during a run, from /proc (Linux only; elsewhere it reports
// nothing). Used to see how the machine's cores were split between the shop (this process),
// PostgreSQL (the postmaster and all its backends) and the load generator.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Names a group of processes; `pids()` is called at the start and at the end of a run. */
export interface ProcessGroup {
  name: string;
  pids: () => number[];
}

/** CPU used per group, in percent of one core (200% = both cores of a 2-core machine busy). */
export type CpuSplit = Record<string, number> & { machine: number; other: number };

const HAS_PROC = process.platform === 'linux';
const CLOCK_TICKS = HAS_PROC ? clockTicks() : 100;

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process is gone
  }
}

/** utime + stime of one process (all its threads), in clock ticks. */
function processTicks(pid: number): number {
  const fields = statFields(pid);
  // After the name: state(0) ppid(1) … utime(11) stime(12).
  return fields ? Number(fields[11]) + Number(fields[12]) : 0;
}

/** `pid` and every process whose parent is `pid` (PostgreSQL's backends are direct children). */
export function withChildren(pid: number | undefined): number[] {
  if (pid === undefined || !HAS_PROC) return [];
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((candidate) => statFields(candidate)?.[1] === String(pid));
  return [pid, ...children];
}

/** Busy ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
function machineBusyTicks(): number {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values;
  return user + nice + system + irq + softirq + steal;
}

type Snapshot = { at: number; machine: number; ticks: Map<string, Map<number, number>> };

function snapshot(groups: readonly ProcessGroup[]): Snapshot {
  const ticks = new Map(groups.map((group) => [group.name, new Map(group.pids().map((pid) => [pid, processTicks(pid)]))]));
  return { at: performance.now(), machine: machineBusyTicks(), ticks };
}

/** Starts measuring; the returned function stops and gives the split (undefined off Linux). */
export function measureCpu(groups: readonly ProcessGroup[]): () => CpuSplit | undefined {
  if (!HAS_PROC) return () => undefined;
  const start = snapshot(groups);
  return () => {
    const end = snapshot(groups);
    const seconds = (end.at - start.at) / 1000;
    const split: Record<string, number> = {};
    for (const group of groups) {
      const before = start.ticks.get(group.name) ?? new Map<number, number>();
      let used = 0;
      // A process that started during the run counts from zero; one that ended is not seen.
      for (const [pid, ticks] of end.ticks.get(group.name) ?? []) used += ticks - (before.get(pid) ?? 0);
      split[group.name] = (100 * used) / CLOCK_TICKS / seconds;
    }
    // Busy ticks of all CPUs together: also in percent of one core. 'other' is whatever else
    // ran meanwhile (the kernel's share of loopback networking is partly in here too).
    const groupsTotal = Object.values(split).reduce((sum, value) => sum + value, 0);
    split['machine'] = (100 * (end.machine - start.machine)) / CLOCK_TICKS / seconds;
    split['other'] = Math.max(0, split['machine'] - groupsTotal);
    return split as CpuSplit;
  };
}

/** How busy the machine is right now, in percent of one core, sampled over `ms`. */
export async function machineBusyPercent(ms = 500): Promise<number | undefined> {
  if (!HAS_PROC) return undefined;
  const before = machineBusyTicks();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (100 * (machineBusyTicks() - before)) / CLOCK_TICKS / ((performance.now() - started) / 1000);
}
