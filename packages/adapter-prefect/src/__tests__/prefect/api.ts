export type Json = Record<string, any>;

/**
 * Requests to a Prefect server's REST API. 429, 502 and 503 are retried with backoff, as Prefect's
 * own client does by default: its SQLite database answers 503 while another writer (a worker's
 * polling, a deploy) holds the lock.
 */
export function prefectApi(apiUrl: string) {
  return async function call<T = Json>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${apiUrl}${path}`, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      if (response.ok) return (await response.json()) as T;
      const text = await response.text();
      if (![429, 502, 503].includes(response.status) || attempt === 6) throw new Error(`Prefect API ${method} ${path}: ${response.status} ${text} (attempt ${attempt})`);
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    }
  };
}

export const TERMINAL = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"];
