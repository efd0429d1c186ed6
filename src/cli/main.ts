#!/usr/bin/env node
// The chaos-lab command: parses arguments, calls the library, prints. Nothing else lives here.
import { parseArgs } from 'node:util';
import { startStandaloneShop } from '../lab/standalone-shop.ts';
import { STRATEGIES, type StrategyName } from '../shop/database/shop-database.ts';

const USAGE = `usage: chaos-lab <command> [options]

commands:
  shop [--port N] [--strategy naive|resilient]
      start an embedded PostgreSQL 18 and one Chaos Shop instance; Ctrl-C stops both
  help
      show this text`;

class UsageError extends Error {}

function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function parseStrategy(raw: string | undefined): StrategyName | undefined {
  if (raw === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(raw)) {
    throw new UsageError(`--strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as StrategyName;
}

/** Runs until `stop` fires, then runs `cleanup` once; a second Ctrl-C exits at once. */
function untilSignalled(cleanup: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        console.error(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = true;
      console.log(`\n${signal}: stopping…`);
      cleanup().then(resolve, (error: unknown) => {
        console.error(`error while stopping: ${(error as Error).message}`);
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function shopCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, strategy: { type: 'string' } }, strict: true });
  const port = parsePort(values.port);
  const strategy = parseStrategy(values.strategy);
  console.log('starting PostgreSQL 18 (embedded) …');
  const lab = await startStandaloneShop({
    port,
    strategy,
    events: {
      onInitRetry: (error, next) =>
        console.log(`database not ready (${(error as Error).message})${next === undefined ? '' : `, retrying in ${next / 1000} s`}`),
      onDatabaseRetry: (role, error, attempt) => console.log(`${role}: ${(error as Error).message}; retry ${attempt}`),
    },
  });
  console.log(`PostgreSQL ${lab.postgres.host}:${lab.postgres.port} (pid ${lab.postgres.pid}, data ${lab.postgres.dataDir})`);
  await lab.shop.whenInitialised();
  console.log(`Chaos Shop (${lab.shop.config.strategy} strategy, instance ${lab.shop.config.instanceId}) at ${lab.shop.url}`);
  console.log(`  try: curl ${lab.shop.url}/products`);
  console.log('Ctrl-C to stop');
  await untilSignalled(() => lab.close());
  console.log('stopped');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'shop':
        await shopCommand(rest);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`chaos-lab: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`chaos-lab: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
