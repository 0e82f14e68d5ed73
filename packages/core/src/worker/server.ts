import { AsyncLocalStorage } from "node:async_hooks";
import { chmodSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { isRetryable } from "../errors.js";
import type { StepHost, StepSignal } from "../step/guard.js";
import { writeAllSync, type StepIO, type StepMain } from "../step/io.js";
import { redactorOf } from "../step/resources.js";
import { frames, parseRequest, parseSignal, type StepRequest } from "./frames.js";

/**
 * `<step entry> worker --socket S [--idle-seconds N] [--max-rss-mb N]`: serves the entry's `main`
 * warm, one step at a time, over a Unix socket (WORKER-CONTRACT.md). The entry's modules, core,
 * nodejs-polars and the build's definitions are imported once; each step gets its own env, cwd,
 * output and process events, and the worker exits wherever a one-off step process would have.
 */

const SIGNAL_CODES: Record<StepSignal, number> = { SIGTERM: 143, SIGINT: 130 };

interface Listeners {
  readonly idle: Set<() => void>;
  readonly exit: Set<(code: number) => void>;
  readonly signal: Set<(signal: StepSignal) => void>;
  readonly crash: Set<(e: unknown) => void>;
}

/** The step being served: its connection and the process events routed to it. */
interface Current {
  readonly socket: Socket;
  readonly io: StepIO & { readonly redact: (text: string) => string };
  readonly listeners: Listeners;
  exitCode: number | undefined;
  /** Why this worker must not serve another step, if it must not. */
  retired: string | undefined;
  /** The exit frame was written (or is being): nothing more goes to this connection. */
  ended: boolean;
}

export interface WorkerOptions {
  readonly socket: string;
  readonly idleSeconds: number;
  readonly maxRssMb: number;
}

function numberOption(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${value}"`);
  return n;
}

export function workerOptions(args: readonly string[], env: NodeJS.ProcessEnv = process.env): WorkerOptions {
  const { values } = parseArgs({
    args: [...args],
    options: { socket: { type: "string" }, "idle-seconds": { type: "string" }, "max-rss-mb": { type: "string" } },
  });
  if (!values.socket) throw new Error("--socket is required: worker --socket PATH [--idle-seconds N] [--max-rss-mb N]");
  return {
    socket: values.socket,
    idleSeconds: numberOption(values["idle-seconds"] ?? env.BATON_WORKER_IDLE_SECONDS, 300, "--idle-seconds"),
    maxRssMb: numberOption(values["max-rss-mb"] ?? env.BATON_WORKER_MAX_RSS_MB, 2048, "--max-rss-mb"),
  };
}

/** A connected socket's raw fd (a net.Socket on a Unix socket wraps a libuv pipe with one). */
function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("the connection has no file descriptor");
  return fd;
}

/** The ref'd timers and immediates keeping the event loop alive. */
function liveTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "Immediate").length;
}

/** Replace process.env wholesale (not merge): the step sees exactly its request's environment. */
function replaceEnv(next: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(process.env)) if (!(key in next)) delete process.env[key];
  for (const [key, value] of Object.entries(next)) if (process.env[key] !== value) process.env[key] = value;
}

export async function serveSteps(main: StepMain, args: readonly string[], entry: { readonly name: string }): Promise<void> {
  const options = workerOptions(args);
  const socketPath = options.socket;
  let current: Current | undefined;
  const owner = new AsyncLocalStorage<Current>();
  let lastRedact: (text: string) => string = (t) => t;
  let owned = false;
  let idleTimer: NodeJS.Timeout | undefined;
  const log = (text: string) => writeAllSync(2, `${new Date().toISOString()} ${entry.name} worker ${process.pid}: ${text}\n`);

  const removeSocket = () => {
    if (!owned) return;
    owned = false;
    try {
      unlinkSync(socketPath);
    } catch {
      // already gone
    }
  };
  /** The client is gone mid-step: nobody reads the step's events or can stop it (as exitWithParent). */
  const orphaned = () => {
    removeSocket();
    process.kill(process.pid, "SIGKILL");
  };
  /** Report the step's exit code, then end its connection. */
  const report = (c: Current, code: number) => {
    if (c.ended) return;
    c.ended = true;
    try {
      writeAllSync(c.io.fd, frames.exit(code));
    } catch {
      // the client is gone: nothing to report to
    }
  };
  const server: Server = createServer({ allowHalfOpen: false });
  /** No new step reaches this worker: the door closes before any exit code is reported. */
  const closeDoor = () => {
    removeSocket();
    server.close();
  };
  /** End the step with `code` and the worker with it (where a one-off process would exit). */
  const exitNow = (code: number): never => {
    closeDoor();
    if (current) report(current, code);
    process.exit(code);
  };

  // Every print of the step (console.*, process.stdout/stderr.write) goes to its connection.
  // Redaction by the step's own secrets (output.ts) wraps these writers while the step runs.
  for (const [stream, kind] of [
    [process.stdout, "out"],
    [process.stderr, "err"],
  ] as const) {
    const original = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    stream.write = function (chunk: unknown, ...rest: unknown[]): boolean {
      if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) return original(chunk, ...rest);
      const encoding = typeof rest[0] === "string" ? (rest[0] as BufferEncoding) : "utf8";
      const text = typeof chunk === "string" ? Buffer.from(chunk, encoding).toString("utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
      const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      // The step whose code is printing (async context), else the one being served. A timer an
      // earlier step left behind prints to the worker's log, redacted, never into another step.
      const c = owner.getStore() ?? current;
      if (!c || c.ended) return original((c?.io.redact ?? lastRedact)(text), "utf8", callback);
      c.io[kind](text);
      if (callback) process.nextTick(callback);
      return true;
    } as typeof stream.write;
  }

  // The process events a one-off step process has, routed to the step being served.
  process.on("beforeExit", () => {
    // Only reachable during a step: between steps the server keeps the loop alive.
    const c = current;
    if (!c || c.ended) return;
    for (const l of [...c.listeners.idle]) l();
    exitNow(c.exitCode ?? 0);
  });
  process.on("exit", (code) => {
    const c = current;
    if (c && !c.ended) {
      for (const l of [...c.listeners.exit]) l(code);
      report(c, c.exitCode ?? code);
    }
    removeSocket();
  });
  process.on("uncaughtException", (e) => {
    const c = current;
    if (c && !c.ended && c.listeners.crash.size > 0) {
      for (const l of [...c.listeners.crash]) l(e);
    } else if (c && !c.ended) {
      c.io.err(`${entry.name}: uncaught ${(e as Error)?.stack ?? String(e)}\n`);
    } else {
      log(`uncaught ${(e as Error)?.stack ?? String(e)} (between steps: the worker exits)`);
    }
    exitNow(1);
  });
  const onSignal = (signal: StepSignal) => {
    const c = current;
    if (c && !c.ended) {
      for (const l of [...c.listeners.signal]) l(signal);
      exitNow(SIGNAL_CODES[signal]);
    }
    exitNow(0);
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));

  // Connections not yet closed: the idle clock runs only while there are none (and no step).
  let open = 0;
  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (current || open > 0) return; // re-armed when that connection closes
      log(`idle for ${options.idleSeconds} s: exiting`);
      exitNow(0);
    }, options.idleSeconds * 1000);
  };

  const serve = async (socket: Socket, request: StepRequest, fd: number) => {
    const redact = redactorOf(request.secrets);
    lastRedact = redact;
    const send = (text: string) => {
      try {
        writeAllSync(fd, text);
      } catch {
        orphaned();
      }
    };
    const listeners: Listeners = { idle: new Set(), exit: new Set(), signal: new Set(), crash: new Set() };
    const add = <T>(set: Set<T>, l: T) => {
      set.add(l);
      return () => void set.delete(l);
    };
    const host: StepHost = {
      onIdle: (l) => add(listeners.idle, l),
      onExit: (l) => add(listeners.exit, l),
      onSignal: (l) => add(listeners.signal, l),
      onCrash: (l) => add(listeners.crash, l),
      exit: (code) => exitNow(code),
      setExitCode: (code) => {
        c.exitCode = code;
      },
      retire: (reason) => {
        c.retired ??= reason;
      },
    };
    const io: StepIO & { readonly redact: (text: string) => string } = {
      redact,
      out: (text) => send(frames.out(redact(text))),
      err: (text) => send(frames.err(redact(text))),
      fd,
      host,
      frames: { out: frames.out, err: frames.err, exit: frames.exit },
      warm: true,
    };
    const c: Current = { socket, io, listeners, exitCode: undefined, retired: undefined, ended: false };
    const saved = { env: { ...process.env } as Record<string, string>, cwd: process.cwd() };
    const timersBefore = liveTimers();
    current = c;
    let code: number;
    try {
      replaceEnv(request.env);
      if (request.cwd !== null) process.chdir(request.cwd);
      // While a step runs nothing of the worker's keeps the event loop alive, so a step whose
      // promise can never settle drains it (beforeExit), exactly as in a one-off process.
      server.unref();
      socket.unref();
      code = await owner.run(c, () => main(request.argv, io));
    } catch (e) {
      io.err(`${entry.name}: ${(e as Error)?.message ?? String(e)}\n`);
      code = isRetryable(e) ? 1 : 3;
    }
    // A timer the step left keeping the loop alive would run on into the next step and hide a
    // promise that never settles there (its loop could never drain): a one-off process had none.
    const leftTimers = liveTimers() - timersBefore;
    if (leftTimers > 0) c.retired ??= `the step left ${leftTimers} timer${leftTimers > 1 ? "s" : ""} running`;
    const rssMb = process.memoryUsage.rss() / (1024 * 1024);
    const retire = c.retired ?? (rssMb > options.maxRssMb ? `RSS ${Math.round(rssMb)} MB is above --max-rss-mb ${options.maxRssMb} after a step` : undefined);
    if (retire !== undefined) {
      // Memory-based recycling, or user code still running: the door closes before the code is
      // reported, so the next step starts a fresh worker.
      log(`${retire}: exiting`);
      closeDoor();
      report(c, code);
      process.exit(0);
    }
    report(c, code);
    current = undefined;
    replaceEnv(saved.env);
    try {
      process.chdir(saved.cwd);
    } catch {
      process.chdir("/");
    }
    // Everything was written to the fd synchronously: nothing is left in Node's buffers.
    socket.destroy();
    server.ref();
  };

  server.on("connection", (socket) => {
    if (current) {
      // One step at a time: the client holds the slot's lock, so only a stray connection gets here.
      socket.destroy();
      return;
    }
    let fd: number;
    try {
      fd = fdOf(socket);
      writeAllSync(fd, frames.hello(process.pid));
    } catch (e) {
      log(`cannot answer a connection: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    open += 1;
    clearTimeout(idleTimer);
    socket.setEncoding("utf8");
    let buffered = "";
    let request: StepRequest | undefined;
    let step: Current | undefined;
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (request === undefined) {
          try {
            request = parseRequest(line);
          } catch (e) {
            writeAllSync(fd, frames.err(`${entry.name} worker: ${(e as Error).message}\n`) + frames.exit(3));
            socket.destroy();
            return;
          }
          void serve(socket, request, fd);
          step = current;
          continue;
        }
        const signal = parseSignal(line);
        if (signal !== undefined && step && !step.ended) onSignal(signal);
      }
    });
    socket.on("end", () => {
      if (step && !step.ended) orphaned();
    });
    socket.on("close", () => {
      if (step && !step.ended) orphaned();
      open -= 1;
      if (open === 0 && !current) armIdle();
    });
    socket.on("error", () => undefined);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    try {
      unlinkSync(socketPath); // the client starts a worker only for a socket nobody answers
    } catch {
      // none
    }
    // The socket is the worker's door: only this user may connect (the folder is 0700 as well).
    const umask = process.umask(0o177);
    server.listen(socketPath, () => {
      process.umask(umask);
      owned = true;
      chmodSync(socketPath, 0o600);
      server.off("error", reject);
      resolveListen();
    });
  });
  server.on("error", (e) => log(`server error: ${e.message}`));
  log(`serving ${socketPath} (idle ${options.idleSeconds} s, max RSS ${options.maxRssMb} MB)`);
  armIdle();
}
