// What one shop instance does, as one typed value: a field per resilience pattern (Article 3's
// connection, timeout, retry and read/write split; Article 4's circuit breaker, read cache,
// write buffer and initialisation; Article 7's dependency client and worker pools). Given as a preset name or a preset plus overrides, checked once at the edge
// against the published schema (schema/patterns.schema.json), resolved to defaults once, and
// handed on as the resolved value: an instance process checks it (SHOP_PATTERNS) and never
// re-defaults it.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/** The named sets of patterns: the articles' BEFORE and AFTER. */
export type PresetName = 'naive' | 'resilient' | 'resilient-breaker' | 'graceful' | 'coupled' | 'isolated' | 'isolated-stale';

/** The presets, for validation and help texts. */
export const PRESET_NAMES: readonly PresetName[] = ['naive', 'resilient', 'resilient-breaker', 'graceful', 'coupled', 'isolated', 'isolated-stale'];

/** The preset an object without `preset` starts from: the shop's default. */
export const DEFAULT_PRESET: PresetName = 'resilient';

/** How the shop holds its database connections. */
export type ConnectionPattern =
  | { kind: 'persistent' }
  | { kind: 'pool'; /** Connections per endpoint. */ size: number; /** Checked with SELECT 1 after this long idle. */ validateAfterIdleMs: number };

/** A circuit breaker's settings as a shop pattern (Article 4); the breaker's own full settings are resilience's CircuitBreakerSettings. */
export interface BreakerPatternSettings {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial call. */
  recoveryTimeoutMs: number;
}

/**
 * The circuit breaker around every database statement: off, in the instance's memory, or shared
 * through the lab's services store. Where the store is, and its password, is not a pattern:
 * the resolved value goes into lab.json and journals, so an instance is told the store's
 * address by the dependency registry's SERVICES_STORE_URL, never by its patterns.
 */
export type CircuitBreakerPattern =
  | { mode: 'off' }
  | ({ mode: 'local' } & BreakerPatternSettings)
  | ({ mode: 'shared' } & BreakerPatternSettings);

/**
 * Article 4's read cache: off, or write-through (every product read the database answers is
 * written to the cache; reads fall back to it while the database is away). `refreshMs`: the
 * longest a key goes without a rewrite while its value does not change, which is what keeps the
 * write-through off the read path's cost (a write per read would halve GET /products).
 */
export type ReadCachePattern = { mode: 'off' } | { mode: 'write-through'; refreshMs: number };

/** Article 4's write buffer: off, or queue (an order the database cannot take goes to the order queue: 202). */
export type WriteBufferPattern = { mode: 'off' } | { mode: 'queue' };

/**
 * How the schema is created at start (Article 4's lesson): once (one attempt; after its failure
 * requests go through anyway, and fail on the missing tables: the article's "500 forever"), or
 * background (retried with a doubling delay; 503 DB_NOT_READY until done: the article's fix).
 */
export type InitialisationPattern = { mode: 'once' } | { mode: 'background'; initialDelayMs: number; maxDelayMs: number };

/**
 * How the shop's clients of its secondary dependencies (the reviews table, the promo bucket)
 * behave: Article 7's boto3 Config, and what a failed call answers. The timeouts are per attempt
 * and never scaled by a profile (they are the client's patience, not the experiment's clock).
 */
export interface DependencyClientPattern {
  /** Bound on opening a connection (also on waiting for a pooled one). */
  connectTimeoutMs: number;
  /** Bound on one call once connected. */
  readTimeoutMs: number;
  /** Attempts after the first, for a call that could not reach the dependency. */
  retries: number;
  /** error: 503 "reviews temporarily unavailable"; stale: the last good answer from the read cache, marked stale with its age. */
  fallback: 'error' | 'stale';
}

/**
 * Article 7's worker pools. Node serves every request at once (off); the article's gunicorn has
 * a fixed number of sync workers, each held for a whole request, and that limit is what turns a
 * hanging dependency into a full outage, so it is a pattern: shared (one pool for every request)
 * or per-dependency (the reviews and promo endpoints each have a pool of their own).
 */
export type WorkerPoolsPattern =
  | { mode: 'off' }
  | { mode: 'shared'; /** Requests served at once. */ workers: number; /** Requests that may wait for a worker. */ backlog: number }
  | { mode: 'per-dependency'; workers: number; backlog: number; /** Each dependency's pool. */ dependencyWorkers: number; dependencyBacklog: number };

/** What one shop instance does: one field per pattern, every default applied. */
export interface Patterns {
  connection: ConnectionPattern;
  /** Statement timeout (null: none, the naive shop waits forever). */
  queryTimeoutMs: number | null;
  /** Waits before each retry of a statement that lost its connection ([] = no retries). */
  retry: { delaysMs: number[] };
  /** Reads on the reader endpoint, writes on the writer; false: everything on the writer. */
  readWriteSplit: boolean;
  circuitBreaker: CircuitBreakerPattern;
  readCache: ReadCachePattern;
  writeBuffer: WriteBufferPattern;
  initialisation: InitialisationPattern;
  dependencyClient: DependencyClientPattern;
  workerPools: WorkerPoolsPattern;
}

/** Overrides of a preset, each pattern deep-merged over the preset's. */
export interface PatternsOverrides {
  preset?: PresetName;
  connection?: { kind?: ConnectionPattern['kind']; size?: number; validateAfterIdleMs?: number };
  queryTimeoutMs?: number | null;
  retry?: { delaysMs?: number[] };
  readWriteSplit?: boolean;
  circuitBreaker?: { mode?: CircuitBreakerPattern['mode']; failureThreshold?: number; recoveryTimeoutMs?: number };
  readCache?: { mode?: ReadCachePattern['mode']; refreshMs?: number };
  writeBuffer?: { mode?: WriteBufferPattern['mode'] };
  initialisation?: { mode?: InitialisationPattern['mode']; initialDelayMs?: number; maxDelayMs?: number };
  dependencyClient?: Partial<DependencyClientPattern>;
  workerPools?: { mode?: WorkerPoolsPattern['mode']; workers?: number; backlog?: number; dependencyWorkers?: number; dependencyBacklog?: number };
}

/** What a template, a `--patterns` flag or a library caller gives: a preset name, or a preset and overrides. */
export type PatternsInput = PresetName | PatternsOverrides;


/** Article 4's defaults: three consecutive failures open the circuit; it tries again after 30 s. */
export const CIRCUIT_BREAKER_DEFAULTS: BreakerPatternSettings = { failureThreshold: 3, recoveryTimeoutMs: 30_000 };

/** A cached key is rewritten at least once a second while the database keeps answering the same value. */
export const READ_CACHE_DEFAULTS = { refreshMs: 1000 } as const;

/** Article 4's _init_db_with_retry: 2 s, doubled after each failure, capped at 30 s. */
export const INITIALISATION_DEFAULTS = { initialDelayMs: 2000, maxDelayMs: 30_000 } as const;

/** What a client of a secondary dependency gets without thinking (boto3's defaults): 60 s to connect, 60 s to read, legacy mode's 4 retries. */
export const SDK_DEFAULT_DEPENDENCY_CLIENT: DependencyClientPattern = { connectTimeoutMs: 60_000, readTimeoutMs: 60_000, retries: 4, fallback: 'error' };

/** Article 7's AFTER: `Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 0})`, a fast 503. */
export const SHORT_DEPENDENCY_CLIENT: DependencyClientPattern = { connectTimeoutMs: 2000, readTimeoutMs: 2000, retries: 0, fallback: 'error' };

/** gunicorn's sync workers as Article 7's BEFORE runs them: 4, and a backlog. */
export const WORKER_POOL_DEFAULTS = { workers: 4, backlog: 64 } as const;

/** A pool per dependency: 2 workers each, nobody waits (a third concurrent call is refused at once: a fast 503, not a queue). */
export const DEPENDENCY_POOL_DEFAULTS = { dependencyWorkers: 2, dependencyBacklog: 0 } as const;

/**
 * What every preset but graceful has: no cache, no queue, initialisation retried in the
 * background (the shop's behaviour before Article 4's patterns); and, but for Article 7's
 * presets, the SDK's client defaults and no worker pools.
 */
const NO_DEGRADATION = {
  readCache: { mode: 'off' },
  writeBuffer: { mode: 'off' },
  initialisation: { mode: 'background', ...INITIALISATION_DEFAULTS },
  dependencyClient: SDK_DEFAULT_DEPENDENCY_CLIENT,
  workerPools: { mode: 'off' },
} as const satisfies Pick<Patterns, 'readCache' | 'writeBuffer' | 'initialisation' | 'dependencyClient' | 'workerPools'>;

/** Article 3's BEFORE: one persistent connection to the writer, no timeout, no retry. */
const NAIVE: Patterns = {
  connection: { kind: 'persistent' },
  queryTimeoutMs: null,
  retry: { delaysMs: [] },
  readWriteSplit: false,
  circuitBreaker: { mode: 'off' },
  ...NO_DEGRADATION,
};

/** Article 3's AFTER: a checked pool, a 5 s statement timeout, retries after 0.5 s, 1 s and 2 s, reads on the reader. */
const RESILIENT: Patterns = {
  connection: { kind: 'pool', size: 10, validateAfterIdleMs: 1000 },
  queryTimeoutMs: 5000,
  retry: { delaysMs: [500, 1000, 2000] },
  readWriteSplit: true,
  circuitBreaker: { mode: 'off' },
  ...NO_DEGRADATION,
};

/** The presets: full values for the articles' shops, overrides for the ones built on them. */
export const PATTERN_PRESETS: Readonly<Record<PresetName, PatternsInput>> = {
  naive: NAIVE,
  resilient: RESILIENT,
  // Article 4's starting point: Article 3's resilient shop, plus a breaker in each instance's memory.
  'resilient-breaker': { preset: 'resilient', circuitBreaker: { mode: 'local' } },
  // Article 4's AFTER: the fleet shares one breaker (Article 4's defaults), reads fall back to the
  // write-through cache, orders to the queue the recovery worker drains.
  graceful: { preset: 'resilient', circuitBreaker: { mode: 'shared' }, readCache: { mode: 'write-through' }, writeBuffer: { mode: 'queue' } },
  // Article 7's BEFORE: the SDK's defaults, and one pool of workers that every request shares.
  coupled: { preset: 'resilient', workerPools: { mode: 'shared' } },
  // Article 7's AFTER: short timeouts without retries, and a pool per dependency.
  isolated: { preset: 'resilient', dependencyClient: SHORT_DEPENDENCY_CLIENT, workerPools: { mode: 'per-dependency' } },
  // Beyond the article: a failed dependency answers its last good value, marked stale.
  'isolated-stale': { preset: 'isolated', dependencyClient: { fallback: 'stale' } },
};

// Where a pattern's kind (or mode) changes, it starts from that kind's defaults, not from the
// settings of the kind it replaces (a pool's size means nothing to a persistent connection).
const CONNECTION_DEFAULTS: Record<ConnectionPattern['kind'], ConnectionPattern> = {
  persistent: { kind: 'persistent' },
  pool: { kind: 'pool', size: 10, validateAfterIdleMs: 1000 },
};
const BREAKER_DEFAULTS: Record<CircuitBreakerPattern['mode'], Partial<CircuitBreakerPattern>> = {
  off: { mode: 'off' },
  local: { mode: 'local', ...CIRCUIT_BREAKER_DEFAULTS },
  shared: { mode: 'shared', ...CIRCUIT_BREAKER_DEFAULTS },
};
const READ_CACHE_MODE_DEFAULTS: Record<ReadCachePattern['mode'], ReadCachePattern> = {
  off: { mode: 'off' },
  'write-through': { mode: 'write-through', ...READ_CACHE_DEFAULTS },
};
const INITIALISATION_MODE_DEFAULTS: Record<InitialisationPattern['mode'], InitialisationPattern> = {
  once: { mode: 'once' },
  background: { mode: 'background', ...INITIALISATION_DEFAULTS },
};
const WORKER_POOLS_MODE_DEFAULTS: Record<WorkerPoolsPattern['mode'], WorkerPoolsPattern> = {
  off: { mode: 'off' },
  shared: { mode: 'shared', ...WORKER_POOL_DEFAULTS },
  'per-dependency': { mode: 'per-dependency', ...WORKER_POOL_DEFAULTS, ...DEPENDENCY_POOL_DEFAULTS },
};

/** Patterns that cannot be given, and why (each names the field, the value and the reason). */
export class PatternsError extends Error {
  readonly code = 'INVALID_PATTERNS';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('; '));
    this.name = 'PatternsError';
    this.problems = problems;
  }
}

/** The published schema (schema/patterns.schema.json): a template's schema and the journal's refer to it. */
export const PATTERNS_SCHEMA = JSON.parse(readFileSync(new URL('../../schema/patterns.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const PATTERNS_SCHEMA_ID = PATTERNS_SCHEMA['$id'] as string;

const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addSchema(PATTERNS_SCHEMA);
const validateInput = ajv.getSchema(`${PATTERNS_SCHEMA_ID}#/definitions/input`) as ValidateFunction<PatternsInput>;
const validateResolved = ajv.getSchema(`${PATTERNS_SCHEMA_ID}#/definitions/resolved`) as ValidateFunction<Patterns>;

/** True when `value` has the shape of a patterns input (the schema's part only; resolvePatterns says what is wrong). */
export function isPatternsInput(value: unknown): value is PatternsInput {
  return validateInput(value);
}

/**
 * Checks `input` against the published schema, applies its preset and overrides, and checks the
 * result: the one place patterns get their defaults. `where` prefixes every message (the field
 * the input came from: `modes.naive.lab.patterns`, `--patterns`, …). Throws PatternsError.
 */
export function resolvePatterns(input: unknown, where = 'patterns'): Patterns {
  if (!validateInput(input)) throw new PatternsError(describeErrors(validateInput.errors, input, where));
  return checkResolvedPatterns(expand(input), where);
}

/**
 * Checks an already resolved value (an instance's SHOP_PATTERNS, a library caller's) without
 * applying any default: every field must be there. Throws PatternsError.
 */
export function checkResolvedPatterns(value: unknown, where = 'patterns'): Patterns {
  if (!validateResolved(value)) throw new PatternsError(describeErrors(validateResolved.errors, value, where));
  const init = value.initialisation;
  if (init.mode === 'background' && init.maxDelayMs < init.initialDelayMs) {
    throw new PatternsError([`${where}.initialisation.maxDelayMs: must be at least initialDelayMs (${init.initialDelayMs}), got ${init.maxDelayMs}`]);
  }
  return deepFreeze(structuredClone(value));
}

/** The longest CB_RECOVERY_TIMEOUT taken, in seconds: the schema's bound on recoveryTimeoutMs. */
const MAX_RECOVERY_TIMEOUT_S = 3600;

/**
 * Article 4's app reads its recovery timeout from CB_RECOVERY_TIMEOUT (whole seconds); the shop
 * honours it here, at the edge that reads the environment (an instance's env reader, `chaos-lab
 * shop` and `up`), applied to the resolved value explicitly so that what is recorded (lab.json,
 * journals) is what runs. Unset or empty: `patterns` unchanged. With the breaker off there is
 * nothing to apply it to, but a bad value is still refused: the variable was set for a reason.
 * Throws PatternsError naming the variable and the value.
 */
export function applyRecoveryTimeoutEnv(patterns: Patterns, env: Record<string, string | undefined>, variable = 'CB_RECOVERY_TIMEOUT'): Patterns {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return patterns;
  // Article 4's int(...) takes whole seconds; decimals are taken too, "30s" or "-1" are not.
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds > 0 && seconds <= MAX_RECOVERY_TIMEOUT_S)) {
    throw new PatternsError([`${variable}: must be a number of seconds above 0 and at most ${MAX_RECOVERY_TIMEOUT_S} (e.g. 30), got ${show(raw)}`]);
  }
  const breaker = patterns.circuitBreaker;
  if (breaker.mode === 'off') return patterns;
  return checkResolvedPatterns({ ...patterns, circuitBreaker: { ...breaker, recoveryTimeoutMs: seconds * 1000 } });
}

/**
 * Combines two inputs, as a template's `lab.patterns` and a mode's: a preset name, or an object
 * with a preset, replaces what was there; an object without one is deep-merged over it.
 */
export function mergePatternsInputs(base: PatternsInput | undefined, over: PatternsInput | undefined): PatternsInput | undefined {
  if (over === undefined) return base;
  if (base === undefined || typeof over === 'string' || over.preset !== undefined) return over;
  const from: PatternsOverrides = typeof base === 'string' ? { preset: base } : base;
  const merged: PatternsOverrides = { ...from, ...over };
  // No defaults here: a kind that changes starts empty, and resolvePatterns fills it from that kind's defaults.
  if (from.connection && over.connection) merged.connection = mergeKinded(from.connection, over.connection, 'kind', {});
  if (from.retry && over.retry) merged.retry = { ...from.retry, ...over.retry };
  if (from.circuitBreaker && over.circuitBreaker) merged.circuitBreaker = mergeKinded(from.circuitBreaker, over.circuitBreaker, 'mode', {});
  if (from.readCache && over.readCache) merged.readCache = mergeKinded(from.readCache, over.readCache, 'mode', {});
  if (from.writeBuffer && over.writeBuffer) merged.writeBuffer = { ...from.writeBuffer, ...over.writeBuffer };
  if (from.initialisation && over.initialisation) merged.initialisation = mergeKinded(from.initialisation, over.initialisation, 'mode', {});
  if (from.dependencyClient && over.dependencyClient) merged.dependencyClient = { ...from.dependencyClient, ...over.dependencyClient };
  if (from.workerPools && over.workerPools) merged.workerPools = mergeKinded(from.workerPools, over.workerPools, 'mode', {});
  return merged;
}

/**
 * The preset `patterns` equals ("naive", "resilient", …); the preset it equals but for the waits
 * a profile scales or CB_RECOVERY_TIMEOUT sets ("graceful, other timings"); or "custom": what
 * `GET /`, `up` and `status` show. A demo run of graceful is still graceful to its reader.
 */
export function patternsName(patterns: Patterns): string {
  const exact = PRESET_NAMES.find((name) => isDeepStrictEqual(expand(name), patterns));
  if (exact) return exact;
  const shape = withoutWaits(patterns);
  const near = PRESET_NAMES.find((name) => isDeepStrictEqual(withoutWaits(expand(name)), shape));
  return near ? `${near}, other timings` : 'custom';
}

/** `patterns` without the waits that belong to the timeline (what a profile scales), for comparing shapes. */
function withoutWaits(patterns: Patterns): unknown {
  const { circuitBreaker, readCache, initialisation } = patterns;
  return {
    ...patterns,
    circuitBreaker: circuitBreaker.mode === 'off' ? circuitBreaker : { ...circuitBreaker, recoveryTimeoutMs: 0 },
    readCache: readCache.mode === 'off' ? readCache : { ...readCache, refreshMs: 0 },
    initialisation: initialisation.mode === 'once' ? initialisation : { ...initialisation, initialDelayMs: 0, maxDelayMs: 0 },
  };
}

/** A preset's or an input's patterns with every default applied, unchecked (the schema has passed). */
function expand(input: PatternsInput): Patterns {
  if (typeof input === 'string') return presetPatterns(input);
  const base = presetPatterns(input.preset ?? DEFAULT_PRESET);
  return {
    connection: input.connection ? (mergeKinded(base.connection, input.connection, 'kind', CONNECTION_DEFAULTS) as ConnectionPattern) : base.connection,
    queryTimeoutMs: input.queryTimeoutMs !== undefined ? input.queryTimeoutMs : base.queryTimeoutMs,
    retry: { delaysMs: [...(input.retry?.delaysMs ?? base.retry.delaysMs)] },
    readWriteSplit: input.readWriteSplit ?? base.readWriteSplit,
    circuitBreaker: input.circuitBreaker ? (mergeKinded(base.circuitBreaker, input.circuitBreaker, 'mode', BREAKER_DEFAULTS) as CircuitBreakerPattern) : base.circuitBreaker,
    readCache: input.readCache ? mergeKinded(base.readCache, input.readCache, 'mode', READ_CACHE_MODE_DEFAULTS) : base.readCache,
    writeBuffer: input.writeBuffer ? ({ ...base.writeBuffer, ...input.writeBuffer } as WriteBufferPattern) : base.writeBuffer,
    initialisation: input.initialisation ? mergeKinded(base.initialisation, input.initialisation, 'mode', INITIALISATION_MODE_DEFAULTS) : base.initialisation,
    dependencyClient: { ...base.dependencyClient, ...input.dependencyClient },
    workerPools: input.workerPools ? (mergeKinded(base.workerPools, input.workerPools, 'mode', WORKER_POOLS_MODE_DEFAULTS) as WorkerPoolsPattern) : base.workerPools,
  };
}

/** A preset's patterns: the articles' full values as they are, the others expanded over theirs. */
function presetPatterns(name: PresetName): Patterns {
  if (name === 'naive') return NAIVE;
  if (name === 'resilient') return RESILIENT;
  return expand(PATTERN_PRESETS[name]);
}

/** Merges one pattern: a changed kind starts from that kind's defaults. */
function mergeKinded<T extends object>(base: T, over: object, key: string, defaults: Record<string, object>): T {
  const baseKind = (base as Record<string, unknown>)[key];
  const kind = (over as Record<string, unknown>)[key] ?? baseKind;
  const start = kind === baseKind ? base : (defaults[kind as string] ?? { [key]: kind });
  return { ...start, ...over } as T;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const PREVIEW_LENGTH = 60;

/** A bad value for a message: a primitive by a bounded preview, a container by its kind. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? '{}' : 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value.slice(0, PREVIEW_LENGTH)) : String(value);
  return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH - 3)}...` : text;
}

function partsOf(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(data: unknown, parts: string[]): unknown {
  let value = data;
  for (const part of parts) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function fieldOf(where: string, parts: string[]): string {
  return parts.reduce((field, part) => (/^\d+$/.test(part) ? `${field}[${part}]` : `${field}.${part}`), where);
}

/** The settings of each pattern that has kinds (or modes): set under the wrong one, they "do not apply" rather than being unknown. */
const KINDED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  connection: ['size', 'validateAfterIdleMs'],
  circuitBreaker: ['failureThreshold', 'recoveryTimeoutMs'],
  readCache: ['refreshMs'],
  initialisation: ['initialDelayMs', 'maxDelayMs'],
  workerPools: ['workers', 'backlog', 'dependencyWorkers', 'dependencyBacklog'],
};

/** Each schema error as "field: what it must be, got value". */
function describeErrors(errors: ErrorObject[] | null | undefined, data: unknown, where: string): string[] {
  const messages = (errors ?? [])
    // "must match the else schema" repeats the errors found inside the branch.
    .filter((error) => error.keyword !== 'if')
    .map((error) => describeError(error, data, where));
  return [...new Set(messages)];
}

/** One schema error as a message naming the field and the value. Shared by a template's validation. */
export function describeError(error: ErrorObject, data: unknown, where: string): string {
  const parts = partsOf(error.instancePath);
  const field = fieldOf(where, parts);
  const value = valueAt(data, parts);
  const got = `got ${show(value)}`;
  const params = error.params as Record<string, unknown>;
  const parent = parts.at(-1);
  switch (error.keyword) {
    case 'type':
      if (parts.length === 0) return `${field}: must be a preset (${PRESET_NAMES.join(', ')}) or an object of patterns, ${got}`;
      return `${field}: must be ${/^[aeiou]/.test(String(params['type'])) ? 'an' : 'a'} ${String(params['type'])}, ${got}`;
    case 'enum':
      return `${field}: must be one of ${(params['allowedValues'] as unknown[]).join(', ')}, ${got}`;
    case 'required':
      return `${field}.${String(params['missingProperty'])}: is required`;
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      if (parent === 'circuitBreaker' && name === 'store') {
        // Patterns go into lab.json and journals: an address with a password has no place there.
        return `${field}.store: is not a pattern: a shared breaker keeps its state in the lab's services store, which the lab tells each instance through SERVICES_STORE_URL`;
      }
      if (parts.length === 0) {
        return `${field}: unknown pattern ${JSON.stringify(name)} (the patterns: preset, connection, queryTimeoutMs, retry, readWriteSplit, circuitBreaker, readCache, writeBuffer, initialisation, dependencyClient, workerPools)`;
      }
      if (parent === 'readCache' && name === 'store') {
        return `${field}.store: is not a pattern: the read cache lives in the lab's services store, which the lab tells each instance through READ_CACHE_URL`;
      }
      if (parent === 'writeBuffer' && (name === 'store' || name === 'queue')) {
        return `${field}.${name}: is not a pattern: the order queue lives in the lab's services store, which the lab tells each instance through ORDER_QUEUE_URL`;
      }
      if (parent !== undefined && KINDED_FIELDS[parent]?.includes(name)) {
        const key = parent === 'connection' ? 'kind' : 'mode';
        const kind = (value as Record<string, unknown> | undefined)?.[key];
        if (kind !== undefined) return `${field}.${name}: does not apply when ${field}.${key} is ${JSON.stringify(kind)}`;
      }
      return `${field}: unknown field ${JSON.stringify(name)}`;
    }
    default:
      return `${field}: ${error.message ?? 'is invalid'}, ${got}`;
  }
}
