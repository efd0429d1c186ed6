// The live dashboard's wire protocol: what GET /events streams (Server-Sent Events) to the page.
// The page (page/dashboard.js, plain browser JavaScript) reads exactly these shapes; change both
// together. Every event is `event: <name>` with one JSON `data:` line.
//
// On every new connection the server sends, in order: `hello`, the history it keeps (every
// `second`, then every `band`, then every `log`), the latest `map`; then live events as they
// happen; `bye` when the lab goes away, and the stream ends. A `: ping` comment keeps idle
// connections open. Everything here is a view of the lab's own state and events: the dashboard
// counts nothing the lab does not report (DESIGN principle 6).

/** First event on every connection: what is being watched and whether the page may act. */
export interface HelloEvent {
  /** `up`: a lab a person drives (the page may act); `run`: an experiment's lab (read-only). */
  kind: 'up' | 'run';
  /** True only under `up`: the page may call the control API (with the token in its URL). */
  canAct: boolean;
  /** One line: "chaos-lab up (patterns resilient)" or "instance-stop · mode naive". */
  title: string;
  /** When the lab started, ISO 8601. */
  startedAt: string;
  /** What a fault may name, for the page's "cut a dependency" form (empty under `run`). */
  dependencies: string[];
  /** The fault proxy's fault types, for the same form (empty under `run`). */
  faultTypes: string[];
}

/** One instance of the group, with its target's health at the load balancer. */
export interface MapInstance {
  id: string;
  zone: string;
  /** The instance's lifecycle state: pending, running, stopped, terminated. */
  state: string;
  paused: boolean;
  pid: number | null;
  port: number | null;
  /** Its target at the load balancer (null: not registered, e.g. terminated). */
  target: { state: 'initial' | 'healthy' | 'unhealthy'; inRotation: boolean; ejected: boolean } | null;
}

/** A fault in place on a dependency's fault-proxy listener. */
export interface MapFault {
  id: string;
  dependency: string;
  type: string;
  /** The fault's parameters as the fault proxy holds them (latencyMs, …; empty for a type that takes none). */
  params: Record<string, unknown>;
  createdAt: string;
  expiresAt: string;
  /** Time left when the map was taken (0 when expired and not yet swept). */
  msLeft: number;
}

/** The lab's map: taken once a second from the lab's own status. */
export interface MapEvent {
  at: string;
  instances: MapInstance[];
  database: {
    members: Array<{ name: string; role: string; running: boolean }>;
    /** The member behind the writer / reader endpoint (null: none right now). */
    writerTarget: string | null;
    readerTarget: string | null;
    failoverInProgress: boolean;
  };
  /** The database proxy: whether it is in the instances' path, and whether its targets are registered. */
  databaseProxy: { inPath: boolean; registered: boolean };
  faults: MapFault[];
  /** The fleet's shared breaker, when the patterns share one. */
  breaker: { state: string } | null;
  /** The order queue, when the patterns buffer writes. */
  queue: { depth: number; inFlight: number; deadLetters: number } | null;
  /** Under `run`: where the run is. */
  run: { state: string } | null;
}

/**
 * The requests the load balancer answered in one wall-clock second (by the second they ended),
 * by status, and their latency: the live timeline's points.
 */
export interface SecondEvent {
  /** Unix time in whole seconds. */
  second: number;
  /** Answers by HTTP status ("200", "503", …), the load balancer's own 502/503/504 included. */
  byStatus: Record<string, number>;
  /** Latency of that second's answers (null: none ended that second). */
  latencyMs: { count: number; p50: number; p99: number; max: number } | null;
}

/** Something active for a while: an experiment's action, a fault set through the control API. Re-sent with endedAt when it ends. */
export interface BandEvent {
  /** Stable across the band's updates. */
  id: string;
  label: string;
  startedAt: string;
  /** Null while still active; a fault's planned end is in `plannedEndAt`. */
  endedAt: string | null;
  plannedEndAt: string | null;
}

/** One line of the event log. */
export interface LogEvent {
  at: string;
  kind: 'fleet' | 'target' | 'database' | 'fault' | 'action' | 'run' | 'breaker' | 'control';
  text: string;
}

/** The lab is going away; the stream ends after this. */
export interface ByeEvent {
  reason: string;
}

/** Every event the stream carries, by name. */
export interface DashboardEvents {
  hello: HelloEvent;
  map: MapEvent;
  second: SecondEvent;
  band: BandEvent;
  log: LogEvent;
  bye: ByeEvent;
}
