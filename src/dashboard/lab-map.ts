// The lab's map for the live dashboard, read from the lab's parts (not lab.status(): a run's lab
// is never published, and the map needs less than the status). A part that does not answer
// gives its last known value or nothing; the map itself never fails for it.
import type { Lab } from '../lab/lab.ts';
import type { MapEvent, MapFault, MapInstance } from './protocol.ts';

/** What the map reads: the parts of a Lab it looks at (a Lab is one). */
export type MappableLab = Pick<Lab, 'group' | 'loadBalancer' | 'cluster' | 'databaseProxy' | 'databaseProxyInPath' | 'faultProxy' | 'breakerState' | 'queueStatus'>;

/** An empty map: no lab followed (between a run's modes, a lab without a Lab such as the breaker lab). */
export function emptyMap(at: number, run: MapEvent['run']): MapEvent {
  return {
    at: new Date(at).toISOString(),
    instances: [],
    database: { members: [], writerTarget: null, readerTarget: null, failoverInProgress: false },
    databaseProxy: { inPath: false, registered: false },
    faults: [],
    breaker: null,
    queue: null,
    run,
  };
}

/**
 * Reads the map of `lab` now. The fault list comes from the fault proxy's process: when it does
 * not answer, `previousFaults` stand (a fault does not end because its proxy was slow to say so).
 * The breaker and the queue are null when the store does not answer, as in lab.status().
 */
export async function readLabMap(lab: MappableLab, run: MapEvent['run'], previousFaults: MapFault[], now: () => number = Date.now): Promise<MapEvent> {
  const [database, faults, breaker, queue] = await Promise.all([
    // No replication lag: the map does not show it, and its query opens a connection to the writer.
    lab.cluster.status({ replicationLag: false }),
    lab.faultProxy.client.faults().catch(() => undefined),
    lab.breakerState().catch(() => undefined),
    lab.queueStatus().catch(() => undefined),
  ]);
  const at = now();
  const targets = new Map(lab.loadBalancer.targets().map((t) => [t.id, t]));
  const instances: MapInstance[] = lab.group.instances().map((i) => {
    const target = targets.get(i.id);
    return {
      id: i.id,
      zone: i.zone,
      state: i.state,
      paused: i.paused,
      pid: i.pid,
      port: i.address?.port ?? null,
      target: target ? { state: target.state, inRotation: target.inRotation, ejected: target.ejected } : null,
    };
  });
  return {
    at: new Date(at).toISOString(),
    instances,
    database: {
      members: database.members.map((m) => ({ name: m.name, role: m.role, running: m.running })),
      writerTarget: database.endpoints.writer.target,
      readerTarget: database.endpoints.reader.target,
      failoverInProgress: database.failoverInProgress,
    },
    databaseProxy: { inPath: lab.databaseProxyInPath, registered: lab.databaseProxy.status().registered },
    faults: faults
      ? faults.map((f) => ({ id: f.id, dependency: f.proxy, type: f.type, params: f.params, createdAt: f.createdAt, expiresAt: f.expiresAt, msLeft: Math.max(0, Date.parse(f.expiresAt) - at) }))
      : previousFaults.map((f) => ({ ...f, msLeft: Math.max(0, Date.parse(f.expiresAt) - at) })),
    breaker: breaker ? { state: breaker.state } : null,
    queue: queue ? { depth: queue.stats.depth, inFlight: queue.stats.inFlight, deadLetters: queue.stats.deadLetters } : null,
    run,
  };
}
