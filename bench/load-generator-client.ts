// The parent side of the load generator: forks load-generator.ts once and runs one load at a time.
import { fork, type ChildProcess } from 'node:child_process';
import type { LoadSpec, LoadSummary } from './load-generator.ts';

type LoadReply = { ready: true } | { ok: true; summary: LoadSummary } | { ok: false; error: string };

/** The autocannon child process: started once, one run at a time. */
export class LoadGenerator {
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(): Promise<LoadGenerator> {
    const child = fork(new URL('./load-generator.ts', import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('error', () => {}); // a send to a child that just died: its 'exit' reports it
    const generator = new LoadGenerator(child);
    await generator.#nextReply();
    return generator;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async run(spec: LoadSpec): Promise<LoadSummary> {
    if (!this.#child.connected) throw new Error('load generator is not running');
    const reply = this.#nextReply();
    this.#child.send(spec);
    const answer = await reply;
    if ('ready' in answer) throw new Error('load generator answered out of turn');
    if (!answer.ok) throw new Error(`load generator failed: ${answer.error}`);
    return answer.summary;
  }

  stop(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
  }

  #nextReply(): Promise<LoadReply> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: LoadReply): void => {
        this.#child.off('exit', onExit);
        resolve(message);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        this.#child.off('message', onMessage);
        reject(new Error(`load generator exited (${signal ?? `exit ${code}`})`));
      };
      this.#child.once('message', onMessage);
      this.#child.once('exit', onExit);
    });
  }
}

