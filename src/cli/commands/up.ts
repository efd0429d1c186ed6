import { parseArgs } from 'node:util';
import { upHello } from '../../dashboard/hello.ts';
import { LiveFeed } from '../../dashboard/live-feed.ts';
import { buildControlApi } from '../../lab/control-api.ts';
import { Lab, newToken } from '../../lab/lab.ts';
import { labDir } from '../lab-client.ts';
import { parsePatternsOption, patternsWithEnv, refuseStrategyOption } from '../patterns-option.ts';
import { describeStop, parseCount, untilStopped } from '../shared.ts';

/** chaos-lab up: the whole lab, until Ctrl-C or `chaos-lab down`. */
export async function upCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      instances: { type: 'string' },
      patterns: { type: 'string' },
      // --db-proxy / --no-db-proxy: the lab's topology, not a shop pattern.
      'db-proxy': { type: 'boolean' },
      strategy: { type: 'string' },
      dir: { type: 'string' },
      'lb-retry': { type: 'boolean', default: false },
      'lb-eject': { type: 'boolean', default: false },
    },
    strict: true,
    allowNegative: true,
  });
  refuseStrategyOption(values.strategy, 'up');
  const instances = parseCount(values.instances, '--instances', 8);
  const patterns = patternsWithEnv(await parsePatternsOption(values.patterns), process.env);
  const dir = labDir(values.dir);
  const stop = untilStopped();
  const started = performance.now();
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const starting = Lab.start({
    dir,
    instances,
    patterns,
    databaseProxy: values['db-proxy'] ?? true,
    retry: values['lb-retry'],
    ejection: values['lb-eject'] ? { consecutiveFailures: 1, durationMs: 30_000 } : undefined,
    onProgress: (step) => console.log(`[${elapsed()}] ${step} …`),
  });
  // Ctrl-C during start-up: let the start finish (it cleans up after itself on failure), then stop.
  const early = await Promise.race([starting.then(() => undefined), stop.stopped]);
  const lab = await starting;
  const token = newToken();
  // The live dashboard follows the lab from the start; it says bye to every page before the lab goes.
  const feed = new LiveFeed({ hello: upHello(lab, new Date()) });
  const api = buildControlApi(lab, token, stop.stop, feed);
  try {
    if (early !== undefined) {
      console.log(`\n${describeStop(early)}: stopping …`);
      return;
    }
    feed.followLab(lab);
    await api.listen({ host: '127.0.0.1', port: 0 });
    const address = api.server.address();
    const controlUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const info = await lab.publish(controlUrl, token);
    const ready = await Promise.race([waitUntilServing(lab).then(() => true), stop.stopped.then(() => false)]);
    if (ready) {
      console.log(`[${elapsed()}] ready: the fleet answers through the load balancer`);
      console.log(`\n  load balancer    ${info.loadBalancerUrl}     (try: curl ${info.loadBalancerUrl}/products, /products/3/reviews, /promo)`);
      for (const instance of lab.group.instances()) console.log(`  instance         ${instance.id}  zone ${instance.zone}  127.0.0.1:${instance.address?.port}`);
      console.log(`  writer endpoint  ${info.endpoints.writer.host}:${info.endpoints.writer.port}   reader endpoint ${info.endpoints.reader.host}:${info.endpoints.reader.port}`);
      console.log(`  database proxy   writer ${info.endpoints.proxyWriter.port}, reader ${info.endpoints.proxyReader.port}${info.databaseProxy ? '' : '   (not in the instances\' path: --no-db-proxy)'}`);
      if (info.endpoints.servicesStore) {
        const paths = lab.dependencies.filter((d) => d.upstream.port === info.endpoints.servicesStore!.port).map((d) => d.name);
        console.log(`  services store   ${info.endpoints.servicesStore.host}:${info.endpoints.servicesStore.port}   (reached through ${paths.join(', ')}; fault add <one of them> … cuts that path)`);
      }
      // Article 7's secondary dependencies, each through its own listener: cut one, watch the rest.
      for (const d of lab.dependencies.filter((dependency) => dependency.role === 'reviews' || dependency.role === 'promo')) {
        const route = d.role === 'reviews' ? '/products/:id/reviews' : '/promo';
        console.log(`  ${d.name.padEnd(16)} ${route.padEnd(22)} through 127.0.0.1:${d.listen.port}   (fault add ${d.name} blackhole --duration 60s cuts it)`);
      }
      if (lab.recoveryWorker) console.log(`  recovery worker  pid ${lab.recoveryWorker.pid ?? '-'}   (drains the order queue; chaos-lab queue shows it)`);
      console.log(`  control API      ${controlUrl}  (token in ${dir}/token)`);
      console.log(`  dashboard        ${controlUrl}/?token=${token}`);
      console.log(`\nIn another terminal: npm run chaos-lab -- status | instance stop <id> | failover | fault add db-writer blackhole --duration 30s`);
      console.log('Ctrl-C (or chaos-lab down) stops everything.');
      lab.group.on('event', (event) => console.log(`  ${event.at.slice(11, 19)} ${event.type} ${event.instanceId} (zone ${event.zone})${event.detail ? `: ${event.detail}` : ''}`));
      lab.loadBalancer.on('state-change', (change) => console.log(`  ${change.at.slice(11, 19)} target ${change.target} ${change.from} -> ${change.to} (${change.reason})`));
    }
    const reason = await stop.stopped;
    console.log(`\n${describeStop(reason)}: stopping …`);
    feed.close(`the lab was stopped (${describeStop(reason)})`);
  } finally {
    feed.close('the lab was stopped');
    await api.close().catch(() => {});
    await lab.close();
    console.log('stopped');
  }
}

/** Waits until every instance serves /products, and the load balancer does too. */
async function waitUntilServing(lab: Lab): Promise<void> {
  for (const instance of lab.group.instances()) {
    if (instance.address) await waitUntilAnswering(`http://127.0.0.1:${instance.address.port}`);
  }
  await waitUntilAnswering(lab.loadBalancer.url);
}

async function waitUntilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/products`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer /products within 30 s`);
}
