/**
 * Redaction of everything the process prints through `process.stdout.write` and
 * `process.stderr.write` (console.* writes through them): the asset's own prints reach the
 * orchestrator's logs. Events are written with `fs.writeSync` and are redacted when built.
 *
 * Several steps may run at once in one process (the embedded executor): each registers its
 * redactor and the streams are patched while at least one is registered.
 */
type Redact = (text: string) => string;
type Write = typeof process.stdout.write;

const registered = new Set<{ redact: Redact }>();
let patched: { stream: NodeJS.WriteStream; original: Write; wrapper: Write }[] = [];

function redactChunk(chunk: unknown, encoding: unknown): string | undefined {
  let text: string;
  if (typeof chunk === "string") text = chunk;
  else if (chunk instanceof Uint8Array) text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
  else return undefined;
  if (typeof chunk === "string" && typeof encoding === "string" && encoding !== "utf8" && encoding !== "utf-8") return undefined;
  const out = redactRegistered(text);
  return out === text ? undefined : out;
}

function patch(stream: NodeJS.WriteStream): void {
  const original = stream.write;
  const wrapper = function (this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
    const redacted = registered.size > 0 ? redactChunk(chunk, rest[0]) : undefined;
    if (redacted === undefined) return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    const callback = rest.find((r) => typeof r === "function");
    return (original as (...a: unknown[]) => boolean).call(this, redacted, "utf8", callback);
  } as Write;
  stream.write = wrapper;
  patched.push({ stream, original, wrapper });
}

/** Redact what this process prints until the returned function is called (idempotent). */
export function redactProcessOutput(redact: Redact): () => void {
  const entry = { redact };
  registered.add(entry);
  for (const stream of [process.stdout, process.stderr]) if (!patched.some((p) => p.stream === stream)) patch(stream);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    registered.delete(entry);
    if (registered.size > 0) return;
    // Restore only a stream nobody patched after us; otherwise our wrapper stays, passing through.
    const buried = patched.filter((p) => p.stream.write !== p.wrapper);
    for (const p of patched) if (p.stream.write === p.wrapper) p.stream.write = p.original;
    patched = buried;
  };
}

/** The text with every redactor registered now applied (for what bypasses the streams, e.g. a crash report). */
export function redactRegistered(text: string): string {
  let out = text;
  for (const r of registered) out = r.redact(out);
  return out;
}
