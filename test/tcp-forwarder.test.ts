// The loopback forwarder every endpoint is built on, with real sockets.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { routeTo, TcpForwarder } from '../src/lab/net/tcp-forwarder.ts';

describe('TcpForwarder', () => {
  it('closes even when a client is left half-open (its upstream ended, it never did)', async () => {
    // The upstream ends its side at once, as a database server that shuts down does.
    const upstream = createServer((socket) => socket.end());
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const forwarder = new TcpForwarder(routeTo(() => ({ host: '127.0.0.1', port: (upstream.address() as AddressInfo).port })));
    const address = await forwarder.listen();
    // A client that allows half-open connections and never ends its side.
    const client: Socket = connect({ ...address, allowHalfOpen: true });
    client.on('error', () => {});
    await once(client, 'end'); // the forwarder passed the upstream's end on
    try {
      const closed = await Promise.race([forwarder.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 3000, 'hung'))]);
      assert.equal(closed, 'closed');
    } finally {
      client.destroy();
      upstream.close();
    }
  });
});
