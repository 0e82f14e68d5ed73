import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DbtError } from "./errors.js";

/** The dbt-core versions this package reads the artifacts of (manifest v12, run_results v6). */
export const DBT_CORE_WANTED = ">=1.11.0 <1.12.0";
const WANTED_MAJOR_MINOR = "1.11";
/** The pins of dbt's own virtual environment, shipped with the package (`uv pip install -r` it). */
export const DBT_REQUIREMENTS = fileURLToPath(new URL("../python/requirements-dbt.txt", import.meta.url));
/** Where the executable comes from when the caller names none. */
export const DBT_EXECUTABLE_ENV = "BATON_DBT_EXECUTABLE";

const FIX =
  "create dbt's own virtual environment from @baton/dbt's pins and point Baton at it:\n" +
  "    uv venv .venvs/dbt && uv pip install --python .venvs/dbt/bin/python -r node_modules/@baton/dbt/python/requirements-dbt.txt\n" +
  `    export ${DBT_EXECUTABLE_ENV}=$PWD/.venvs/dbt/bin/dbt`;

/** The executable to run: the option, else $BATON_DBT_EXECUTABLE, else `dbt` on PATH. */
export function resolveDbtExecutable(option: string | undefined): string {
  const fromEnv = process.env[DBT_EXECUTABLE_ENV];
  return option ?? (fromEnv !== undefined && fromEnv !== "" ? fromEnv : "dbt");
}

/** One line of dbt's `--log-format json` output. */
export interface DbtLogEvent {
  readonly name: string;
  readonly level: string;
  readonly msg: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface DbtInvocation {
  readonly executable: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: readonly DbtLogEvent[];
  /** Lines that were not JSON events (a crash, a Python traceback). */
  readonly otherOutput: string;
  readonly dbtVersion: string | undefined;
  readonly adapter: { readonly name: string; readonly version: string } | undefined;
  /** Wall time of the whole process, ms. */
  readonly wallMs: number;
}

function versionOf(v: unknown): string | undefined {
  return typeof v === "string" ? v.replace(/^=+/, "") : undefined;
}

function parseEvent(line: string): DbtLogEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const raw = JSON.parse(line) as { info?: { name?: string; level?: string; msg?: string }; data?: Record<string, unknown> };
    if (raw.info?.name === undefined) return undefined;
    return { name: raw.info.name, level: raw.info.level ?? "info", msg: raw.info.msg ?? "", data: raw.data ?? {} };
  } catch {
    return undefined;
  }
}

function versionError(executable: string, found: string): DbtError {
  return new DbtError("DBT_VERSION", `${executable} is dbt-core ${found}; @baton/dbt needs dbt-core ${DBT_CORE_WANTED}`, { hint: FIX });
}

/**
 * Run one dbt command with JSON logs. The first event dbt prints is its version: a dbt outside
 * DBT_CORE_WANTED is stopped there, before it touches the project, and reported as DBT_VERSION.
 * A missing executable is DBT_NOT_FOUND. Anything else (dbt's own exit code) is the caller's to read.
 */
export function runDbt(executable: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<DbtInvocation> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(executable, ["--log-format", "json", ...args], {
      cwd: options.cwd,
      // dbt's anonymous usage events go to the network, which CI does not reach: off.
      env: { ...process.env, DBT_SEND_ANONYMOUS_USAGE_STATS: "false", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      signal: options.signal,
    });
    const events: DbtLogEvent[] = [];
    let other = "";
    let dbtVersion: string | undefined;
    let adapter: { name: string; version: string } | undefined;
    let wrongVersion: DbtError | undefined;
    let pending = "";
    const onLine = (line: string): void => {
      const event = parseEvent(line);
      if (event === undefined) {
        if (line.trim() !== "") other += `${line}\n`;
        return;
      }
      events.push(event);
      if (event.name === "MainReportVersion") {
        dbtVersion = versionOf(event.data.version);
        if (dbtVersion !== undefined && !dbtVersion.startsWith(`${WANTED_MAJOR_MINOR}.`)) {
          wrongVersion = versionError(executable, dbtVersion);
          child.kill("SIGTERM");
        }
      } else if (event.name === "AdapterRegistered") {
        adapter = { name: String(event.data.adapter_name), version: versionOf(event.data.adapter_version) ?? "" };
      }
    };
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(onLine);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      other += chunk;
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT" || e.code === "EACCES") {
        reject(
          new DbtError("DBT_NOT_FOUND", `the dbt executable ${JSON.stringify(executable)} ${e.code === "ENOENT" ? "was not found" : "is not executable"} (dbtExecutable, else $${DBT_EXECUTABLE_ENV}, else "dbt" on PATH); @baton/dbt needs dbt-core ${DBT_CORE_WANTED}`, {
            hint: FIX,
          }),
        );
      } else reject(e);
    });
    child.on("close", (exitCode, signal) => {
      if (pending !== "") onLine(pending);
      if (wrongVersion !== undefined) return reject(wrongVersion);
      if (dbtVersion === undefined && events.length === 0) {
        return reject(
          new DbtError("DBT_FAILED", `${executable} ${args[0] ?? ""} printed no dbt log event (exit ${exitCode ?? signal}); is it dbt-core ${DBT_CORE_WANTED}?${other ? `\n${other.trim().slice(-2000)}` : ""}`, { hint: FIX }),
        );
      }
      resolve({ executable, args, exitCode, signal, events, otherOutput: other, dbtVersion, adapter, wallMs: Date.now() - started });
    });
  });
}

/** dbt's error events (and any output that was not an event), as one text for a message. */
export function errorText(invocation: DbtInvocation): string {
  const lines = invocation.events.filter((e) => e.level === "error").map((e) => e.msg.trim());
  if (invocation.otherOutput.trim() !== "") lines.push(invocation.otherOutput.trim().slice(-2000));
  return lines.join("\n");
}
