// chaos-lab experiments | validate | run | suite: the chaos engine on the command line.
import { writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { BUILTIN_EXPERIMENTS, builtinPath, resolveExperiment, UnknownExperimentError, type ResolvedExperiment } from '../../chaos/builtin.ts';
import { formatMs } from '../../chaos/duration.ts';
import type { Journal } from '../../chaos/journal.ts';
import type { Lab } from '../../lab/lab.ts';
import { PlanError, planRun } from '../../chaos/plan.ts';
import { PROFILE_NAMES, profileNamed, type Profile } from '../../chaos/profiles.ts';
import { checkEndpointGoal, formatComparison, formatEndpointsLine, formatResults, formatStatusLine } from '../../chaos/report.ts';
import { runExperiment, type RunObserver } from '../../chaos/runner.ts';
import { loadTemplate, TemplateError } from '../../chaos/template.ts';
import { formatProbe } from '../../traffic/probe.ts';
import { runHello, suiteHello } from '../../dashboard/hello.ts';
import type { LiveFeed } from '../../dashboard/live-feed.ts';
import { startRunDashboard } from '../../dashboard/run-dashboard.ts';
import { ensureDir } from '../../lab/files.ts';
import { checkOutputPaths } from '../output-paths.ts';
import type { ReportOptions } from '../../report/index.ts';
import { writeReportFile } from './report.ts';
import { describeStop, untilStopped, UsageError } from '../shared.ts';

/** chaos-lab experiments: the built-ins, one line each, with their modes. */
export async function experimentsCommand(args: string[]): Promise<void> {
  parseArgs({ args, options: {}, strict: true });
  const width = Math.max(...BUILTIN_EXPERIMENTS.map((n) => n.length));
  for (const name of BUILTIN_EXPERIMENTS) {
    const template = await loadTemplate(builtinPath(name));
    const article = template.tags?.['article'] ? `Article ${template.tags['article']}: ` : template.tags?.['lab'] ? `${template.tags['lab']}: ` : '';
    console.log(`${name.padEnd(width)}  ${article}${template.title}`);
    for (const [mode, spec] of Object.entries(template.modes)) console.log(`${''.padEnd(width)}    ${mode}: ${spec.description ?? ''}`);
  }
  console.log(`\nprofiles: ${PROFILE_NAMES.map((p) => `${p} (${profileNamed(p)!.description})`).join('; ')}`);
  console.log('run one: npm run chaos-lab -- run db-failover --mode compare --profile demo');
}

/** chaos-lab validate <file>: every problem, each naming the field and the bad value; exit 1 if any. */
export async function validateCommand(args: string[]): Promise<void> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new UsageError('validate takes one template file');
  const file = positionals[0]!;
  try {
    const template = await loadTemplate(file);
    console.log(`${file}: valid (${Object.keys(template.actions).length} actions, modes ${Object.keys(template.modes).join(', ')})`);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}

/** chaos-lab run <experiment|file> [--mode m|compare] [--profile p] [--journal FILE] [--out DIR] [--seed N]. */
export async function runCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      mode: { type: 'string', default: 'compare' },
      profile: { type: 'string', default: 'demo' },
      journal: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new UsageError('run takes one experiment name or template file');
  const profile = parseProfile(values.profile);
  const seed = parseSeed(values.seed);
  let experiment: ResolvedExperiment;
  try {
    experiment = await resolveExperiment(positionals[0]!);
  } catch (error) {
    if (error instanceof UnknownExperimentError) throw new UsageError(error.message);
    throw error;
  }
  const modes = modesOf(experiment, values.mode);
  // A template this profile cannot run (a duration it scales below what works) is refused before anything starts.
  for (const mode of modes) {
    try {
      planRun(experiment.name, experiment.template, mode, profile);
    } catch (error) {
      if (error instanceof PlanError) throw new UsageError(error.message);
      throw error;
    }
  }
  const out = values.out ?? defaultOutDir();
  const journalFile = (mode: string): string => {
    if (!values.journal) return join(out, `${experiment.name}-${mode}.json`);
    // One file per mode when comparing: FILE.json becomes FILE-naive.json and FILE-resilient.json.
    return modes.length === 1 ? values.journal : values.journal.replace(/(\.json)?$/, `-${mode}.json`);
  };
  // The report beside the journals: FILE.json gives FILE.html, a results folder report.html.
  const reportFile = values.journal ? values.journal.replace(/(\.json)?$/, '.html') : join(out, 'report.html');
  // Before the run, not after it: a journal that cannot be written at the end is a run lost.
  // The given path too when comparing: it names the files, and /dev/null-naive.json is no journal.
  if (values.journal) await checkOutputPaths({ flag: '--journal', files: [...new Set([values.journal, ...modes.map(journalFile), reportFile])] });
  else await checkOutputPaths({ flag: '--out', dirs: [out] });
  // The read-only live dashboard: up before the first mode, following each mode's lab; bye when the command ends.
  const dashboard = await startRunDashboard(runHello(experiment.name, modes, new Date()));
  console.log(`dashboard: ${dashboard.url}`);
  const session = new Session(profile, seed, dashboard.feed);
  try {
    await session.runExperiment(experiment, modes, journalFile, reportFile);
  } finally {
    session.dispose();
    await dashboard.close(session.interrupted ? 'the run was stopped' : 'the run is over').catch(() => {});
  }
  if (!values.journal || modes.length > 1) await session.writeSummary(values.journal ? dirname(journalFile(modes[0]!)) : out);
  process.exitCode = session.exitCode();
}

/** chaos-lab suite: every built-in experiment in compare mode (what npm start runs). */
export async function suiteCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { profile: { type: 'string', default: 'demo' }, out: { type: 'string' }, seed: { type: 'string' } }, strict: true });
  const profile = parseProfile(values.profile);
  const out = values.out ?? defaultOutDir();
  const seed = parseSeed(values.seed);
  await checkOutputPaths({ flag: '--out', dirs: [out] });
  // The read-only live dashboard, as under run: it follows each run's lab in turn.
  const dashboard = await startRunDashboard(suiteHello(BUILTIN_EXPERIMENTS, new Date()));
  const session = new Session(profile, seed, dashboard.feed);
  console.log(`chaos-lab suite: ${BUILTIN_EXPERIMENTS.join(', ')}, each BEFORE and AFTER, ${profile.name} profile (${profile.description})`);
  console.log(`journals and summary: ${relative(process.cwd(), out) || '.'}/   Ctrl-C stops the run in progress and cleans up.`);
  console.log(`dashboard: ${dashboard.url}\n`);
  try {
    for (const name of BUILTIN_EXPERIMENTS) {
      if (session.interrupted) break;
      const experiment = await resolveExperiment(name);
      await session.runExperiment(experiment, Object.keys(experiment.template.modes), (mode) => join(out, `${name}-${mode}.json`), join(out, `${name}.html`));
    }
  } finally {
    session.dispose();
    await dashboard.close(session.interrupted ? 'the suite was stopped' : 'the suite is over').catch(() => {});
  }
  await session.writeSuiteReport(join(out, 'report.html'));
  await session.writeSummary(out);
  process.exitCode = session.exitCode();
}

/** Article 7's part of a run's summary: failures per endpoint over the run, and the mode's goal. */
function endpointSummary(journal: Journal): Record<string, unknown> {
  const goal = checkEndpointGoal(journal);
  return {
    endpointFailures: Object.fromEntries(Object.entries(journal.endpoints?.totals ?? {}).map(([name, c]) => [name, c.fail])),
    endpointStale: Object.fromEntries(Object.entries(journal.endpoints?.totals ?? {}).map(([name, c]) => [name, c.stale])),
    endpointGoal: goal ? { goal: goal.goal, met: goal.met, detail: goal.detail } : null,
  };
}

function parseProfile(raw: string): Profile {
  const profile = profileNamed(raw);
  if (!profile) throw new UsageError(`--profile must be one of ${PROFILE_NAMES.join(', ')}, got ${JSON.stringify(raw)}`);
  return profile;
}

function parseSeed(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function modesOf(experiment: ResolvedExperiment, mode: string): string[] {
  const modes = Object.keys(experiment.template.modes);
  if (mode === 'compare') return modes;
  if (!modes.includes(mode)) throw new UsageError(`--mode must be compare or one of ${experiment.name}'s modes (${modes.join(', ')}), got ${JSON.stringify(mode)}`);
  return [mode];
}

function defaultOutDir(): string {
  return join('chaos-lab-results', new Date().toISOString().slice(0, 19).replace(/:/g, '-'));
}

/** One experiment's runs in a session: its journals, its BEFORE vs AFTER table, its report (once written). */
interface ExperimentResult {
  experiment: string;
  journals: Array<{ journal: Journal; file: string }>;
  table: string;
  report?: string;
}

/** Runs experiments one after another, prints progress and tables, writes journals; Ctrl-C stops the current run. */
class Session {
  readonly #profile: Profile;
  readonly #seed: number | undefined;
  readonly #abort = new AbortController();
  readonly #started = performance.now();
  readonly #results: ExperimentResult[] = [];
  readonly #stop = untilStopped();
  /** The live dashboard's feed (`run`), told of each run's lab, states and actions. */
  readonly #feed: LiveFeed | undefined;

  constructor(profile: Profile, seed: number | undefined, feed?: LiveFeed) {
    this.#profile = profile;
    this.#seed = seed;
    this.#feed = feed;
    void this.#stop.stopped.then((reason) => {
      if (reason === 'request') return;
      console.log(`\n${describeStop(reason)}: stopping the run, rolling back and cleaning up … (again to exit at once)`);
      this.#abort.abort();
    });
  }

  get interrupted(): boolean {
    return this.#abort.signal.aborted;
  }

  dispose(): void {
    this.#stop.stop();
  }

  async runExperiment(experiment: ResolvedExperiment, modes: string[], journalFile: (mode: string) => string, reportFile: string): Promise<void> {
    const result: ExperimentResult = { experiment: experiment.name, journals: [], table: '' };
    this.#results.push(result);
    for (const mode of modes) {
      if (this.interrupted) break;
      const plan = planRun(experiment.name, experiment.template, mode, this.#profile);
      const heading = `▶ ${experiment.name} · ${mode}${plan.modeDescription ? ` (${plan.modeDescription})` : ''}`;
      console.log(`${heading} · ${formatMs(plan.durationMs)} of traffic`);
      this.#feed?.log('run', heading);
      const journal = await runExperiment({
        plan,
        template: experiment.template,
        seed: this.#seed,
        signal: this.#abort.signal,
        observer: this.#observer(mode),
        ...(this.#feed ? { onLab: (lab: Lab | undefined) => (lab ? this.#feed!.followLab(lab) : this.#feed!.unfollow()) } : {}),
      });
      const file = journalFile(mode);
      await ensureDir(dirname(file));
      await writeFile(file, `${JSON.stringify(journal, null, 2)}\n`);
      result.journals.push({ journal, file });
      console.log(`\n${formatResults(journal)}\njournal: ${file}\n`);
    }
    if (result.journals.length > 1) {
      result.table = formatComparison(result.journals.map((j) => j.journal));
      console.log(`${result.table}\n`);
    }
    if (result.journals.length > 0 && (await this.#writeReport(reportFile, result.journals.map((j) => j.journal)))) result.report = reportFile;
  }

  /** The suite's report.html: every run of every experiment, with links to each experiment's own report. */
  async writeSuiteReport(file: string): Promise<void> {
    const journals = this.#results.flatMap((r) => r.journals.map((j) => j.journal));
    if (journals.length === 0) return;
    const links = this.#results.flatMap((r) => (r.report ? [{ label: `${r.experiment} report`, href: relative(dirname(file), r.report) }] : []));
    await this.#writeReport(file, journals, { title: `chaos-lab suite (${this.#profile.name} profile)`, links });
  }

  /** Writes a report and prints its path; a report that cannot be written is said, and the run goes on (its journals are written). */
  async #writeReport(file: string, journals: Journal[], options: ReportOptions = {}): Promise<boolean> {
    try {
      await writeReportFile(file, journals, options);
      console.log(`report: ${file}`);
      return true;
    } catch (error) {
      console.error(`chaos-lab: the report ${file} could not be written: ${(error as Error).message}`);
      return false;
    }
  }

  /** Writes summary.json and summary.md next to the journals. */
  async writeSummary(dir: string): Promise<void> {
    const durationMs = performance.now() - this.#started;
    await ensureDir(dir);
    const summary = {
      profile: this.#profile.name,
      durationMs: Math.round(durationMs),
      interrupted: this.interrupted,
      experiments: this.#results.map((r) => ({
        experiment: r.experiment,
        runs: r.journals.map(({ journal, file }) => ({
          mode: journal.mode,
          status: journal.status,
          deviated: journal.deviated,
          readsFailed: journal.traffic?.reads.fail ?? null,
          writesFailed: journal.traffic?.writes.fail ?? null,
          probeFailures: journal.probe?.failures ?? null,
          ordersLost: journal.audit?.lost ?? null,
          // Orders of the run under no key the client sent: an order applied twice, or one nobody asked for.
          ordersUnexplained: journal.audit?.unexplained ?? null,
          ...(journal.degradation
            ? {
                readsFromCache: journal.degradation.reads.cache,
                ordersQueued: journal.degradation.writes.queued,
                rejectedAfterAcceptance: journal.audit?.rejectedAfterAcceptance ?? null,
                // Acknowledged (202) but not applied when the audit ran: not lost, not done either.
                ordersStillQueued: journal.audit?.stillQueued ?? null,
                ordersDeadLettered: journal.audit?.deadLettered ?? null,
                queueRemaining: journal.degradation.queue?.remaining ?? null,
                deadLetters: journal.degradation.queue?.deadLetters ?? null,
                timeToDrainMs: journal.degradation.drain?.timeToDrainMs ?? null,
                drainGoalMs: journal.degradation.drain?.goalMs ?? null,
                auditWaitMs: journal.degradation.auditWait?.waitedMs ?? null,
                auditWaitLimitMs: journal.degradation.auditWait?.limitMs ?? null,
                auditWaitIdle: journal.degradation.auditWait?.idle ?? null,
              }
            : {}),
          ...(journal.endpoints ? endpointSummary(journal) : {}),
          recovered: journal.impact.recovered,
          journal: relative(dir, file),
        })),
      })),
    };
    await writeFile(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const markdown = [`# chaos-lab results (${this.#profile.name} profile, ${formatMs(durationMs)})`, ''];
    for (const r of this.#results) {
      markdown.push(`## ${r.experiment}`, '', '```', r.table || r.journals.map(({ journal }) => formatResults(journal)).join('\n\n'), '```', '');
    }
    await writeFile(join(dir, 'summary.md'), markdown.join('\n'));
    console.log(`${this.interrupted ? 'stopped' : 'done'} in ${formatMs(durationMs)}; summary: ${join(dir, 'summary.md')}`);
  }

  /** 0 when every run completed (a deviation is a finding, not an error); 130 after Ctrl-C; 1 otherwise. */
  exitCode(): number {
    if (this.interrupted) return 130;
    return this.#results.every((r) => r.journals.every(({ journal }) => journal.status === 'completed')) ? 0 : 1;
  }

  #observer(mode: string): RunObserver {
    const at = (): string => `[${((performance.now() - this.#started) / 1000).toFixed(1).padStart(6)} s]`;
    const feed = this.#feed;
    return {
      state: (state) => {
        console.log(`${at()} ${state}`);
        feed?.noteRunState(state, mode);
      },
      progress: (line) => {
        console.log(`${at()}   ${line} …`);
        feed?.log('run', line);
      },
      status: (totals) => console.log(`${at()}   ${formatStatusLine(totals)}`),
      endpoints: (totals) => console.log(`${at()}   ${formatEndpointsLine(totals)}`),
      probe: (result) => {
        if (result.status !== 200) console.log(`${at()}   probe ${formatProbe(result)}`);
      },
      action: (record) => {
        feed?.noteAction(record);
        const effect = record.state === 'completed' && record.effect && Object.keys(record.effect).length > 0 ? ` ${JSON.stringify(record.effect)}` : '';
        console.log(`${at()}   action ${record.name} (${record.actionId}): ${record.state}${effect}${record.error ? `: ${record.error}` : ''}`);
      },
      stopCondition: (record) => {
        console.log(`${at()}   STOP CONDITION ${record.name}: ${record.metric} = ${record.value}`);
        feed?.log('run', `stop condition ${record.name}: ${record.metric} = ${record.value}`);
      },
    };
  }
}
