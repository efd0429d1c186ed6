// The live dashboard's source: what every connected page is sent, kept in bounded memory so a
// page opened late still gets the last 15 minutes. It follows a lab's own events and state
// (DESIGN principle 6: it counts nothing the lab does not report) and takes notes from whoever
// drives the lab (a run's states and actions). It never keeps a process alive (its timer is
// unref'd and cleared) and nothing the lab does wrong throws out of it.
import type { ActionRecord } from '../chaos/journal.ts';
import type { ClusterEvents } from '../lab/cluster/postgres-cluster.ts';
import type { GroupEvent } from '../lab/fleet/instance-group.ts';
import type { LoadBalancerResponse, TargetStateChange } from '../lab/fleet/load-balancer.ts';
import { emptyMap, readLabMap, type MappableLab } from './lab-map.ts';
import type { BandEvent, DashboardEvents, HelloEvent, LogEvent, MapEvent, MapFault, SecondEvent } from './protocol.ts';
import { TrafficSeconds } from './traffic-seconds.ts';

/** One event of the stream, named as on the wire. */
export type FeedEvent = { [K in keyof DashboardEvents]: { event: K; data: DashboardEvents[K] } }[keyof DashboardEvents];

/** Who is sent the feed's events (an SSE connection). */
export type FeedListener = (event: FeedEvent) => void;

/** Options of a live feed. */
export interface LiveFeedOptions {
  hello: HelloEvent;
  /** How often the map is read while a lab is followed (default 1000 ms). */
  mapEveryMs?: number;
  /** The clock (default Date.now). */
  now?: () => number;
}

/** Seconds of the timeline kept for a late page: 15 minutes (the page shows the last 5). */
export const HISTORY_SECONDS = 900;
/** Log lines kept for a late page. */
export const HISTORY_LOGS = 500;
/** Bands kept at most (active ones, and those that ended within the history). */
const HISTORY_BANDS = 200;

interface Following {
  lab: MappableLab;
  detach: () => void;
  timer: NodeJS.Timeout | undefined;
  reading: boolean;
  /** Asked for while a read was under way (news that must not wait a second): read once more after it. */
  again: boolean;
  /** The first map of a lab is its baseline: what it holds is not news. */
  mapped: boolean;
  /** Which lab this is, of those followed: in its faults' band ids. */
  generation: number;
}

/**
 * The dashboard's state and its subscribers. A page that subscribes is sent, at once and in
 * order: hello, every kept second, band and log, the latest map; then live events; `bye` when
 * the feed closes.
 */
export class LiveFeed {
  readonly hello: HelloEvent;
  readonly #mapEveryMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<FeedListener>();
  readonly #seconds: SecondEvent[] = [];
  readonly #bands = new Map<string, BandEvent>();
  readonly #logs: LogEvent[] = [];
  readonly #traffic = new TrafficSeconds();
  #map: MapEvent | undefined;
  #run: MapEvent['run'] = null;
  #following: Following | undefined;
  #bye: string | undefined;
  #bandCounter = 0;
  #labCounter = 0;
  /** Action name → its band id, while the action runs. */
  readonly #actionBands = new Map<string, string>();

  constructor(options: LiveFeedOptions) {
    this.hello = options.hello;
    this.#mapEveryMs = options.mapEveryMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** True once `close` was called. */
  get closed(): boolean {
    return this.#bye !== undefined;
  }

  /** How many pages are subscribed now. */
  get subscriberCount(): number {
    return this.#listeners.size;
  }

  /** The latest map (undefined before the first). */
  get map(): MapEvent | undefined {
    return this.#map;
  }

  /**
   * Sends `listener` hello, the history and the latest map now, then every live event; a closed
   * feed sends `bye` right after. Returns the unsubscribe function.
   */
  subscribe(listener: FeedListener): () => void {
    const send = (event: FeedEvent): void => deliver(listener, event);
    send({ event: 'hello', data: this.hello });
    for (const data of this.#seconds) send({ event: 'second', data });
    for (const data of this.#bands.values()) send({ event: 'band', data });
    for (const data of this.#logs) send({ event: 'log', data });
    if (this.#map) send({ event: 'map', data: this.#map });
    if (this.#bye !== undefined) {
      send({ event: 'bye', data: { reason: this.#bye } });
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  /** Stops sending `listener` events (a page that went away). */
  unsubscribe(listener: FeedListener): void {
    this.#listeners.delete(listener);
  }

  /**
   * Follows `lab`: its load balancer's answers (the timeline), its group's, targets' and
   * cluster's events (the log), its map once a second (faults as bands, the breaker's and the
   * proxy's changes as log lines). One lab at a time: a second call lets the first go. Returns
   * the function that lets it go (as `unfollow`).
   */
  followLab(lab: MappableLab): () => void {
    this.unfollow();
    if (this.closed) return () => {};
    const onResponse = (response: LoadBalancerResponse): void => this.#traffic.add(response.status, response.durationMs, response.at);
    const onTarget = (change: TargetStateChange): void => this.log('target', `target ${change.target} ${change.from} -> ${change.to} (${change.reason})`, change.at);
    const onGroup = (event: GroupEvent): void =>
      this.log('fleet', `${event.type} ${event.instanceId} (zone ${event.zone})${event.detail ? `: ${event.detail}` : ''}`, event.at);
    const cluster: { [K in keyof ClusterEvents]: (...args: ClusterEvents[K]) => void } = {
      failover: (f) =>
        this.log('database', `failover: ${f.promoted} promoted to writer, ${f.demoted} stopped; writer unavailable ${f.writerUnavailableMs} ms, ${f.cutConnections} connections cut`),
      'reader-rebuilt': (r) => this.log('database', `${r.name} serves as the reader again (rebuilt in ${(r.durationMs / 1000).toFixed(1)} s)`),
      'rebuild-failed': (r) => this.log('database', `${r.name} could not be rebuilt as the reader: ${r.error}`),
      'member-stopped': (m) => this.log('database', `${m.name} stopped (${m.mode})`),
      'member-started': (m) => this.log('database', `${m.name} started`),
    };
    lab.loadBalancer.on('response', onResponse);
    lab.loadBalancer.on('state-change', onTarget);
    lab.group.on('event', onGroup);
    for (const [name, listener] of Object.entries(cluster)) lab.cluster.on(name as keyof ClusterEvents, listener as never);
    const following: Following = {
      lab,
      timer: undefined,
      reading: false,
      again: false,
      mapped: false,
      generation: ++this.#labCounter,
      detach: () => {
        lab.loadBalancer.off('response', onResponse);
        lab.loadBalancer.off('state-change', onTarget);
        lab.group.off('event', onGroup);
        for (const [name, listener] of Object.entries(cluster)) lab.cluster.off(name as keyof ClusterEvents, listener as never);
      },
    };
    this.#following = following;
    this.#traffic.start(this.#now());
    this.#schedule(following);
    void this.#readMap(following);
    return () => {
      if (this.#following === following) this.unfollow();
    };
  }

  /**
   * Lets the followed lab go (before it closes): its last second is handed out, its faults'
   * bands end now, its listeners and the timer are gone, and the map is empty (a run's next lab,
   * or a lab that is not a Lab, must not show the last one's fleet as if it were there).
   */
  unfollow(): void {
    this.#letGo(false);
  }

  /** As unfollow; `keepMap`: the last map stays, without its faults (the page's last state when the feed closes). */
  #letGo(keepMap: boolean): void {
    const following = this.#following;
    if (!following) return;
    this.#following = undefined;
    clearTimeout(following.timer);
    following.detach();
    for (const second of this.#traffic.flush(this.#now(), true)) this.#addSecond(second);
    const at = new Date(this.#now()).toISOString();
    for (const fault of this.#map?.faults ?? []) this.#endFault(following, fault, at, 'the lab went away');
    if (keepMap && this.#map) this.#setMap({ ...this.#map, at, faults: [] });
    else if (!keepMap) this.#setMap(emptyMap(this.#now(), this.#run));
  }

  /** A line of the log, now (or at `at`, ISO 8601). */
  log(kind: LogEvent['kind'], text: string, at?: string): void {
    if (this.closed) return;
    const event: LogEvent = { at: at ?? new Date(this.#now()).toISOString(), kind, text };
    this.#logs.push(event);
    if (this.#logs.length > HISTORY_LOGS) this.#logs.splice(0, this.#logs.length - HISTORY_LOGS);
    this.#emit({ event: 'log', data: event });
  }

  /** Where a run is: a `run` log line, and the map's `run` (sent at once). `mode` names the run's mode in the line. */
  noteRunState(state: string, mode?: string): void {
    if (this.closed) return;
    this.log('run', mode ? `${mode}: ${state}` : state);
    this.#run = { state };
    // A followed lab's next map carries it, read now: a copy of the last map would pass off old state as new.
    if (this.#following) void this.#readMap(this.#following);
    else this.#setMap(this.#map ? { ...this.#map, run: this.#run } : emptyMap(this.#now(), this.#run));
  }

  /** A run's action record, as its observer is told (once when it starts, once when it ends): a band while it runs, and log lines. */
  noteAction(record: ActionRecord): void {
    if (this.closed) return;
    const label = `${record.name} (${record.actionId})`;
    if (record.state === 'running') {
      const id = `action-${++this.#bandCounter}`;
      this.#actionBands.set(record.name, id);
      const startedAt = record.startedAt ?? new Date(this.#now()).toISOString();
      const plannedEndAt = record.durationMs !== undefined ? new Date(Date.parse(startedAt) + record.durationMs).toISOString() : null;
      this.#setBand({ id, label, startedAt, endedAt: null, plannedEndAt });
      const targets = Object.values(record.targets).flat();
      this.log('action', `action ${label} started${targets.length > 0 ? ` on ${targets.join(', ')}` : ''}`, startedAt);
      return;
    }
    const id = this.#actionBands.get(record.name);
    this.#actionBands.delete(record.name);
    const endedAt = record.endedAt ?? new Date(this.#now()).toISOString();
    const band = id ? this.#bands.get(id) : undefined;
    if (band) this.#setBand({ ...band, endedAt });
    const effect = record.effect && Object.keys(record.effect).length > 0 ? ` ${JSON.stringify(record.effect)}` : '';
    this.log('action', `action ${label} ${record.state}${record.state === 'completed' ? effect : ''}${record.error ? `: ${record.error}` : ''}`, endedAt);
  }

  /** Sends `bye` to every subscriber (each stream then ends), lets the lab go and stops the timer. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.#letGo(true);
    this.#bye = reason;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) deliver(listener, { event: 'bye', data: { reason } });
  }

  #emit(event: FeedEvent): void {
    for (const listener of this.#listeners) deliver(listener, event);
  }

  #addSecond(second: SecondEvent): void {
    this.#seconds.push(second);
    if (this.#seconds.length > HISTORY_SECONDS) this.#seconds.splice(0, this.#seconds.length - HISTORY_SECONDS);
    this.#emit({ event: 'second', data: second });
  }

  #setBand(band: BandEvent): void {
    this.#bands.delete(band.id); // re-inserted: the map keeps the order of the latest news
    this.#bands.set(band.id, band);
    // Bands that ended before the kept history, oldest first, and then any beyond the bound.
    const horizon = this.#now() - HISTORY_SECONDS * 1000;
    for (const [id, kept] of this.#bands) {
      if (this.#bands.size <= HISTORY_BANDS && (kept.endedAt === null || Date.parse(kept.endedAt) >= horizon)) continue;
      if (id !== band.id) this.#bands.delete(id);
    }
    this.#emit({ event: 'band', data: band });
  }

  #setMap(map: MapEvent): void {
    this.#map = map;
    this.#emit({ event: 'map', data: map });
  }

  /** The next tick at the next wall-clock second (just after it), so each second is handed out as soon as it is over. */
  #schedule(following: Following): void {
    const now = this.#now();
    const delayMs = this.#mapEveryMs === 1000 ? 1000 - (now % 1000) + 5 : this.#mapEveryMs;
    following.timer = setTimeout(() => {
      if (this.#following !== following) return;
      for (const second of this.#traffic.flush(this.#now())) this.#addSecond(second);
      void this.#readMap(following);
      this.#schedule(following);
    }, delayMs);
    following.timer.unref();
  }

  /** One map of the followed lab; a lab that does not answer keeps the last map. One read at a time. */
  async #readMap(following: Following): Promise<void> {
    if (following.reading) {
      following.again = true;
      return;
    }
    following.reading = true;
    try {
      const previous = this.#map;
      const map = await readLabMap(following.lab, this.#run, following.mapped ? (previous?.faults ?? []) : [], this.#now);
      if (this.#following !== following) return; // let go meanwhile: this map is stale
      this.#news(following, following.mapped ? previous : undefined, map);
      following.mapped = true;
      this.#setMap(map);
    } catch {
      // The lab did not answer (closing, a part restarting): the last map stands.
    } finally {
      following.reading = false;
      // A lab let go meanwhile is not read again.
      if (following.again && this.#following === following) {
        following.again = false;
        void this.#readMap(following);
      }
    }
  }

  /** What changed between two maps, as bands and log lines: faults, the proxy's registration, the breaker. */
  #news(following: Following, previous: MapEvent | undefined, map: MapEvent): void {
    const bandId = (fault: MapFault): string => faultBandId(following, fault);
    const before = new Map((previous?.faults ?? []).map((f) => [f.id, f]));
    const now = new Map(map.faults.map((f) => [f.id, f]));
    for (const fault of map.faults) {
      if (before.has(fault.id) || this.#bands.has(bandId(fault))) continue;
      this.#setBand({ id: bandId(fault), label: `${fault.type} on ${fault.dependency}`, startedAt: fault.createdAt, endedAt: null, plannedEndAt: fault.expiresAt });
      // Its length, not a clock time: the page shows times in the browser's zone, the journal's are UTC.
      if (previous) this.log('fault', `fault ${fault.id}: ${fault.type} on ${fault.dependency} for ${formatSeconds(Date.parse(fault.expiresAt) - Date.parse(fault.createdAt))}`, fault.createdAt);
    }
    for (const fault of before.values()) {
      if (now.has(fault.id)) continue;
      // An expired fault ended when it expired, not when the next map noticed (up to a second later).
      const expired = Date.parse(fault.expiresAt) <= Date.parse(map.at);
      this.#endFault(following, fault, expired ? fault.expiresAt : map.at, expired ? 'expired' : 'removed');
    }
    if (!previous) return;
    if (previous.databaseProxy.registered !== map.databaseProxy.registered) {
      this.log('database', `database proxy: targets ${map.databaseProxy.registered ? 'registered' : 'deregistered'}`, map.at);
    }
    if (previous.breaker && map.breaker && previous.breaker.state !== map.breaker.state) {
      this.log('breaker', `breaker ${previous.breaker.state} -> ${map.breaker.state}`, map.at);
    }
  }

  #endFault(following: Following, fault: MapFault, at: string, why: string): void {
    const band = this.#bands.get(faultBandId(following, fault));
    if (!band || band.endedAt !== null) return;
    this.#setBand({ ...band, endedAt: at });
    this.log('fault', `fault ${fault.id}: ${fault.type} on ${fault.dependency} ended (${why})`, at);
  }
}

/** A duration in seconds, as the log writes it. */
const formatSeconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/** A fault's band: the lab's generation in it, since each lab's fault proxy numbers its faults afresh. */
const faultBandId = (following: Following, fault: MapFault): string => `fault-${following.generation}-${fault.id}`;

/** A listener that throws (a connection gone bad) is its own problem, not the feed's. */
function deliver(listener: FeedListener, event: FeedEvent): void {
  try {
    listener(event);
  } catch {
    // ignored: the SSE layer drops connections that fail
  }
}
