import { BlockList, isIP } from 'node:net';
import type { Address } from './connection.ts';
import type { ProxySpec } from './fault-proxy.ts';
import { FaultSpecError } from './fault-type.ts';

const NAME = /^[a-z][a-z0-9_-]{0,62}$/;
// Ports below 1024 are the system's: a fault proxy run as root must not take one over.
const FIRST_UNPRIVILEGED_PORT = 1024;

// The lab's own addresses: a listener relays only to this machine, never on to the network.
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Refuses a listener that would relay off this machine or take a privileged port. */
export function validateProxySpec(spec: ProxySpec): void {
  if (typeof spec !== 'object' || spec === null) throw new FaultSpecError('a proxy must be {name, upstream: {host, port}, listenPort?}', 'INVALID_PROXY');
  if (typeof spec.name !== 'string' || !NAME.test(spec.name)) {
    throw new FaultSpecError(`proxy name must be lowercase letters, digits, - or _, got ${JSON.stringify(spec.name)}`, 'INVALID_PROXY');
  }
  const upstream = spec.upstream as Partial<Address> | undefined;
  if (typeof upstream !== 'object' || upstream === null || typeof upstream.host !== 'string' || (!isIP(upstream.host) && upstream.host !== 'localhost')) {
    throw new FaultSpecError(`upstream must be {host: an IP address, port}, got ${JSON.stringify(spec.upstream)}`, 'INVALID_PROXY');
  }
  if (upstream.host !== 'localhost' && !LOOPBACK.check(upstream.host, isIP(upstream.host) === 6 ? 'ipv6' : 'ipv4')) {
    throw new FaultSpecError(`upstream host must be a loopback address (127.0.0.0/8, ::1 or localhost): the lab relays only to itself, got ${JSON.stringify(upstream.host)}`, 'INVALID_PROXY');
  }
  if (!Number.isInteger(upstream.port) || upstream.port! < 1 || upstream.port! > 65535) {
    throw new FaultSpecError(`upstream port must be an integer from 1 to 65535, got ${JSON.stringify(upstream.port)}`, 'INVALID_PROXY');
  }
  if (spec.listenPort !== undefined && !(Number.isInteger(spec.listenPort) && spec.listenPort >= 0 && spec.listenPort <= 65535)) {
    throw new FaultSpecError(`listenPort must be an integer from 0 to 65535, got ${JSON.stringify(spec.listenPort)}`, 'INVALID_PROXY');
  }
  if (spec.listenPort !== undefined && spec.listenPort > 0 && spec.listenPort < FIRST_UNPRIVILEGED_PORT) {
    throw new FaultSpecError(`listenPort must be 0 (any free port) or ${FIRST_UNPRIVILEGED_PORT} and above, got ${spec.listenPort} (a privileged port)`, 'INVALID_PROXY');
  }
}
