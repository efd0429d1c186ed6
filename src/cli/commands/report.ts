// chaos-lab report <journal.json …> [--out FILE]: renders saved journals again as one HTML page.
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Journal } from '../../chaos/journal.ts';
import { inModeOrder, JournalFileError, readJournalFile, renderReport, type ReportOptions } from '../../report/index.ts';
import { checkOutputPaths } from '../output-paths.ts';
import { UsageError } from '../shared.ts';

/** Renders `journals` into `file` (the caller has checked the path). */
export async function writeReportFile(file: string, journals: readonly Journal[], options: ReportOptions = {}): Promise<void> {
  await writeFile(file, renderReport(journals, options));
}

/** chaos-lab report: every journal is read and checked first; one bad file is a usage error naming it (exit 2). */
export async function reportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { out: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length === 0) throw new UsageError('report takes one or more journal files');
  const out = values.out ?? join(dirname(positionals[0]!), 'report.html');
  if (positionals.some((file) => resolve(file) === resolve(out))) throw new UsageError(`--out: ${out} is one of the journals; it would be overwritten`);
  const journals: Journal[] = [];
  for (const file of positionals) {
    try {
      journals.push(await readJournalFile(file));
    } catch (error) {
      if (error instanceof JournalFileError) throw new UsageError(error.message);
      throw error;
    }
  }
  await checkOutputPaths({ flag: '--out', files: [out] });
  await writeReportFile(out, inModeOrder(journals));
  console.log(`report: ${out}`);
}
