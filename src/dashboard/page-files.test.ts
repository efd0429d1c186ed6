// The dashboard page's own files, checked without a browser: the fault form's parameter parsing
// and hints (plain JS, imported here as the page imports it) against the lab's registered fault
// types, and the static allow-list against the modules the page actually loads.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { FAULT_TYPES } from '../lab/fault-proxy/faults/index.ts';
import { LiveFeed } from './live-feed.ts';
import { registerDashboardRoutes } from './routes.ts';

/** What page/dashboard-fault-params.js exports (plain JS, so typed here by hand). */
interface FaultParamsModule {
  FAULT_PARAMS: Record<string, { takes: string; example: string }>;
  parseParams(text: string): Record<string, unknown>;
  ParamsError: new (message: string) => Error;
}

const PAGE_DIR = new URL('./page/', import.meta.url);
// Through a computed URL: the project's TypeScript checks no .js, and this one has no types.
const { FAULT_PARAMS, parseParams, ParamsError } = (await import(new URL('dashboard-fault-params.js', PAGE_DIR).href)) as FaultParamsModule;

describe("the dashboard page's fault parameters", () => {
  it('parses name=value entries, decimal values as numbers and others as strings', () => {
    assert.deepEqual(parseParams('latencyMs=200 jitterMs=50'), { latencyMs: 200, jitterMs: 50 });
    assert.deepEqual(parseParams('  rateKBps=0.5,  mode=fast '), { rateKBps: 0.5, mode: 'fast' });
    assert.deepEqual(parseParams('a=-1 b=1e3 c=0x10 d=Infinity e=12ms'), { a: -1, b: 1000, c: '0x10', d: 'Infinity', e: '12ms' });
    assert.deepEqual(parseParams(''), {});
    assert.deepEqual(parseParams('   '), {});
  });

  it('refuses an entry that is not name=value, or a name given twice, naming it', () => {
    for (const [text, named] of [['latencyMs', '"latencyMs"'], ['latencyMs=', '"latencyMs="'], ['=200', '"=200"'], ['latency Ms=200', '"latency"'], ['1x=2', '"1x=2"'], ['a=1 a=2', 'a is given twice']] as const) {
      assert.throws(() => parseParams(text), (error: Error) => error instanceof ParamsError && error.message.includes(named), text);
    }
  });

  it('keeps a name like __proto__ as a plain key, as JSON would', () => {
    const params = parseParams('__proto__=1');
    assert.equal(Object.getPrototypeOf(params), Object.prototype);
    assert.equal(JSON.stringify(params), '{"__proto__":1}');
  });

  it("has a hint for every fault type the lab registers and none other, each example one the type's own parse() accepts", () => {
    assert.deepEqual(Object.keys(FAULT_PARAMS).sort(), [...FAULT_TYPES.keys()].sort());
    for (const [name, type] of FAULT_TYPES) {
      const hint = FAULT_PARAMS[name]!;
      assert.doesNotThrow(() => type.parse(parseParams(hint.example)), name);
      assert.equal(hint.takes === '', hint.example === '', `${name}: a hint says what it takes exactly when it has an example`);
    }
  });
});

describe("the dashboard page's static files", () => {
  it('serves every module the page loads or imports, as JavaScript', async () => {
    const html = await readFile(new URL('index.html', PAGE_DIR), 'utf8');
    const wanted = new Set([...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="\/dashboard\/([^"]+)"/g)].map((m) => m[1]!));
    for (const file of (await readdir(PAGE_DIR)).filter((f) => f.endsWith('.js'))) {
      wanted.add(file);
      const text = await readFile(new URL(file, PAGE_DIR), 'utf8');
      for (const m of text.matchAll(/^import [^;]+ from '\.\/([^']+)';$/gm)) wanted.add(m[1]!);
    }
    assert.ok(wanted.has('dashboard.js') && wanted.has('dashboard-map.js'), [...wanted].join(', '));
    const app = Fastify();
    registerDashboardRoutes(app, new LiveFeed({ hello: { kind: 'up', canAct: true, title: 't', startedAt: new Date(0).toISOString(), dependencies: [], faultTypes: [] } }));
    try {
      for (const file of wanted) {
        const response = await app.inject({ method: 'GET', url: `/dashboard/${file}` });
        assert.equal(response.statusCode, 200, `${file}: ${response.body.slice(0, 200)}`);
        if (file.endsWith('.js')) assert.match(String(response.headers['content-type']), /^text\/javascript/, file);
      }
    } finally {
      await app.close();
    }
  });
});
