import { parseArgs } from 'node:util';
import { startStandaloneShop } from '../../lab/standalone-shop.ts';
import { patternsName } from '../../shop/patterns.ts';
import { parsePatternsOption, patternsWithEnv, refuseStrategyOption } from '../patterns-option.ts';
import { parsePort, untilStopped } from '../shared.ts';

/** chaos-lab shop: one embedded PostgreSQL, the services store beside it, and one shop instance, until Ctrl-C. */
export async function shopCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, patterns: { type: 'string' }, strategy: { type: 'string' } }, strict: true });
  refuseStrategyOption(values.strategy, 'shop');
  const port = parsePort(values.port);
  const patterns = patternsWithEnv(await parsePatternsOption(values.patterns), process.env);
  const stop = untilStopped();
  console.log('starting PostgreSQL 18 (embedded) and the services store …');
  const lab = await startStandaloneShop({
    port,
    patterns,
    events: {
      onInitRetry: (error, next) =>
        console.log(`database not ready (${(error as Error).message})${next === undefined ? '' : `, retrying in ${next / 1000} s`}`),
      onDatabaseRetry: (role, error, attempt) => console.log(`${role}: ${(error as Error).message}; retry ${attempt}`),
    },
  });
  try {
    console.log(`PostgreSQL ${lab.postgres.host}:${lab.postgres.port} (pid ${lab.postgres.pid}, data ${lab.postgres.dataDir})`);
    if (lab.servicesStore) {
      const { circuitBreaker, readCache, writeBuffer, dependencyClient } = lab.shop.config.patterns;
      const holds = [
        'the reviews table and the promo banner',
        circuitBreaker.mode === 'shared' ? "the shared breaker's state" : '',
        readCache.mode !== 'off' || dependencyClient.fallback === 'stale' ? 'the read cache' : '',
        writeBuffer.mode !== 'off' ? 'the order queue' : '',
      ].filter(Boolean);
      console.log(`services store ${lab.servicesStore.endpoint.host}:${lab.servicesStore.endpoint.port} (pid ${lab.servicesStore.server.pid}: ${holds.join(', ')})`);
      // No recovery worker here: `chaos-lab up` runs one.
      if (writeBuffer.mode !== 'off') console.log('  orders queued while the database is away stay queued: no recovery worker runs with `chaos-lab shop` (`chaos-lab up` runs one)');
    }
    await Promise.race([lab.shop.whenInitialised(), stop.stopped]);
    console.log(`Chaos Shop (patterns ${patternsName(lab.shop.config.patterns)}, instance ${lab.shop.config.instanceId}) at ${lab.shop.url}`);
    console.log(`  try: curl ${lab.shop.url}/products`);
    // Straight to the store here: `chaos-lab up` puts each behind its own fault-proxy listener.
    console.log(`       curl ${lab.shop.url}/products/3/reviews   (reviews: the store's reviews table)`);
    console.log(`       curl ${lab.shop.url}/promo                (promo banner: the store's promo bucket)`);
    console.log('Ctrl-C to stop');
    const signal = await stop.stopped;
    console.log(`\n${signal}: stopping…`);
  } finally {
    await lab.close();
  }
  console.log('stopped');
}
