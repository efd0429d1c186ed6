#!/usr/bin/env node
// The chaos-lab command: parses arguments, calls the library, prints. Nothing else lives here.
import { faultCommand, failoverCommand, instanceCommand, proxyCommand, queueCommand, statusCommand, downCommand } from './commands/lab-commands.ts';
import { experimentsCommand, runCommand, suiteCommand, validateCommand } from './commands/experiments.ts';
import { reportCommand } from './commands/report.ts';
import { shopCommand } from './commands/shop.ts';
import { upCommand } from './commands/up.ts';
import { processGuard } from '../lab/process/process-guard.ts';
import { LabDirError } from '../lab/lab-dir.ts';
import { PathError } from '../lab/files.ts';
import { LabRequestError } from './lab-client.ts';
import { UsageError } from './shared.ts';

const USAGE = `usage: chaos-lab <command> [options]

commands:
  suite [--profile quick|demo|article] [--out DIR]
      every built-in experiment, BEFORE (naive) vs AFTER (resilient): what npm start runs
  run <experiment|file> [--mode naive|resilient|compare] [--profile quick|demo|article]
      [--journal FILE] [--out DIR] [--seed N]
      one experiment in a fresh lab: progress, RESULTS, the BEFORE vs AFTER table, a journal
  report <journal.json…> [--out FILE]
      renders saved journals again as one self-contained HTML page (default: report.html beside the first)
  experiments                                     the built-in experiments and profiles
  validate <file>                                 check a template (JSON or YAML)
  shop [--port N] [--patterns P]
      an embedded PostgreSQL 18 and one Chaos Shop instance; Ctrl-C stops both
  up [--instances N] [--patterns P] [--no-db-proxy] [--lb-retry] [--lb-eject] [--dir D]
      the whole lab: PostgreSQL writer + reader, database proxy, fault proxy, instances
      across zones, load balancer, control API; runs until Ctrl-C or chaos-lab down
      --patterns: naive | resilient (default) | resilient-breaker | graceful, JSON text or a .json/.yaml
      file (schema/patterns.schema.json); --no-db-proxy: instances reach the cluster endpoints straight;
      graceful (Article 4) adds the services store (shared breaker, read cache, order queue) and the
      recovery worker
  status | down                                   (against a running lab)
  instance stop|kill|pause|resume|terminate <id>
  failover
  proxy deregister|register
  fault add <dependency> <fault> [--duration 30s] [--param name=value]… [--direction d] [--toxicity p]
      dependency: db-writer, db-reader, and where the patterns use them services-store, read-cache,
      order-queue (chaos-lab status lists them)
  fault list | fault clear
  queue                                           the order queue: depth, in flight, dead letters, oldest age
  queue redrive [--limit N]                       moves dead letters back to the queue
      every lab command takes --dir D (default ./.chaos-lab or $CHAOS_LAB_DIR) and --json
  help`;

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  suite: suiteCommand,
  run: runCommand,
  experiments: experimentsCommand,
  validate: validateCommand,
  report: reportCommand,
  shop: shopCommand,
  up: upCommand,
  status: statusCommand,
  down: downCommand,
  instance: instanceCommand,
  failover: failoverCommand,
  proxy: proxyCommand,
  fault: faultCommand,
  queue: queueCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    await run(rest);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`chaos-lab: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof LabRequestError || error instanceof LabDirError || error instanceof PathError) {
      console.error(`chaos-lab: ${error.message}`);
      return 1;
    }
    console.error(`chaos-lab: ${(error as Error).message}`);
    return 1;
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

const code = await main(process.argv.slice(2));
// A command ends itself once its cleanup is done, rather than trusting the event loop to drain:
// a handle left open (a socket, a child's pipe) would keep it alive, and Node's own teardown has
// been seen to spin forever (nodejs/node#47748). The reaper is let go first, so it is not left a zombie.
await processGuard.close();
await Promise.race([Promise.all([flushed(process.stdout), flushed(process.stderr)]), new Promise((resolve) => setTimeout(resolve, 2000))]);
process.exit(code);
