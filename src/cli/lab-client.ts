import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LabInfo } from '../lab/lab.ts';

/** The folder a lab lives in: --dir, or $CHAOS_LAB_DIR, or ./.chaos-lab. */
export function labDir(flag: string | undefined): string {
  return resolve(flag ?? process.env['CHAOS_LAB_DIR'] ?? '.chaos-lab');
}

/** A request the lab refused, with its message. */
export class LabRequestError extends Error {}

/** Calls a running lab's control API with the token from its folder. */
export class LabClient {
  readonly info: LabInfo;
  readonly #token: string;

  private constructor(info: LabInfo, token: string) {
    this.info = info;
    this.#token = token;
  }

  static async open(dir: string): Promise<LabClient> {
    let info: LabInfo;
    let token: string;
    try {
      info = JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8')) as LabInfo;
      token = (await readFile(join(dir, 'token'), 'utf8')).trim();
    } catch {
      throw new LabRequestError(`no running lab in ${dir} (start one with: chaos-lab up)`);
    }
    return new LabClient(info, token);
  }

  /** The live dashboard's URL, token included (what `up` printed): the page takes the token from it. */
  get dashboardUrl(): string {
    return `${this.info.controlUrl}/?token=${this.#token}`;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.info.controlUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new LabRequestError(`the lab at ${this.info.controlUrl} does not answer (${(error as Error).message}); is it still running (pid ${this.info.pid})?`);
    }
    const parsed = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new LabRequestError(parsed.error ?? `HTTP ${response.status}`);
    return parsed;
  }
}
