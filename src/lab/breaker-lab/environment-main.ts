// One execution environment (a Lambda execution environment): a short-lived process that
// imports the function module once (its cold start: module-level state is made here and lives
// as long as the process), then runs one invocation at a time as the gateway sends them over
// IPC. The gateway recycles it after some invocations or some idle time, as Lambda does, and it
// stops by itself when the gateway goes away (IPC or stdin closes).
//
//   FUNCTION_MODULE=/abs/path.ts ENVIRONMENT_ID=e-1 node environment-main.ts
import { pathToFileURL } from 'node:url';
import type { EnvironmentReady, FromEnvironment, FunctionContext, FunctionModule, ToEnvironment } from './function-protocol.ts';
import { stopWithOwner } from './guarded-child.ts';

const send = (message: FromEnvironment): void => {
  if (process.connected) process.send?.(message);
};
const started = performance.now();
const modulePath = process.env['FUNCTION_MODULE'] ?? '';
const fn = (await import(pathToFileURL(modulePath).href)) as FunctionModule;
if (typeof fn.handler !== 'function') {
  console.error(`environment: ${modulePath} exports no handler`);
  process.exit(2);
}
const context: FunctionContext = {
  environmentId: process.env['ENVIRONMENT_ID'] ?? `pid-${process.pid}`,
  emit: (event) => send({ type: 'event', at: Date.now(), event }),
};

process.on('message', (message: ToEnvironment) => {
  if (message.type !== 'invoke') return;
  fn.handler(message.event, context).then(
    (response) => send({ type: 'result', id: message.id, response }),
    (error: unknown) => send({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
const stop = stopWithOwner(async () => {
  await fn.shutdown?.();
});
process.on('disconnect', stop);
const ready: EnvironmentReady = { pid: process.pid, initMs: Math.round(performance.now() - started) };
process.stdout.write(`${JSON.stringify(ready)}\n`);
