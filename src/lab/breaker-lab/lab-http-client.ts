/** An error answer from a lab server's API ({error, code} JSON). */
export class LabApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'LabApiError';
    this.status = status;
    this.code = code;
  }
}

/** One JSON call to a lab server's token-protected API, bounded by `timeoutMs`. */
export async function labApiCall<T>(url: string, token: string, method: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new LabApiError(response.ok ? 502 : response.status, 'BAD_RESPONSE', `${url} answered ${response.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = parsed as { error?: string; code?: string } | undefined;
    throw new LabApiError(response.status, error?.code ?? 'ERROR', error?.error ?? `HTTP ${response.status}`);
  }
  return parsed as T;
}
