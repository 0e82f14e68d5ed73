/**
 * The worker's wire protocol (WORKER-CONTRACT.md, "Wire protocol"): newline-delimited JSON over
 * the Unix socket, one connection per step.
 *
 *   worker → client   {"hello":{"pid":N,"protocol":1}}   on accept: the worker is ready, and its pid
 *                     {"o":"text"} / {"e":"text"}         the step's stdout / stderr, in write order
 *                     {"exit":N}                          the step's exit code; the worker then closes
 *   client → worker   {"argv":[…],"env":{…},"cwd":"…","secrets":[…]}   the step (argv after the entry)
 *                     {"signal":"SIGTERM"|"SIGINT"}       cancel the step
 *
 * A connection that ends without an exit frame is a worker that died mid-step.
 */
export const PROTOCOL = 1;

export const frames = {
  hello: (pid: number) => JSON.stringify({ hello: { pid, protocol: PROTOCOL } }) + "\n",
  out: (text: string) => JSON.stringify({ o: text }) + "\n",
  err: (text: string) => JSON.stringify({ e: text }) + "\n",
  exit: (code: number) => JSON.stringify({ exit: code }) + "\n",
};

export interface StepRequest {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | null;
  readonly secrets: readonly string[];
}

/** The request frame, checked: a malformed one is reported and ends the connection. */
export function parseRequest(line: string): StepRequest {
  const value = JSON.parse(line) as Partial<Record<keyof StepRequest, unknown>>;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
  const env = value.env;
  if (!strings(value.argv) || env === null || typeof env !== "object" || Array.isArray(env) || !Object.values(env).every((s) => typeof s === "string")) {
    throw new Error("malformed step request: argv must be a list of strings and env an object of strings");
  }
  return {
    argv: value.argv,
    env: env as Record<string, string>,
    cwd: typeof value.cwd === "string" ? value.cwd : null,
    secrets: strings(value.secrets) ? value.secrets : [],
  };
}

/** A cancel frame's signal, or undefined for anything else. */
export function parseSignal(line: string): "SIGTERM" | "SIGINT" | undefined {
  try {
    const value = JSON.parse(line) as { signal?: unknown };
    return value.signal === "SIGTERM" || value.signal === "SIGINT" ? value.signal : undefined;
  } catch {
    return undefined;
  }
}
