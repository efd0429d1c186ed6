import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host`. There is a short race between closing the
 * probe and the caller binding it; callers that cannot bind port 0 themselves (PostgreSQL)
 * retry with a new port when binding fails.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}
