/**
 * Test harness that plays the orchestrator: builds the pipes module to plain JS, writes the
 * context file, encodes the bootstrap params (base64 of zlib JSON), spawns `node` on
 * `child.mjs` and collects the messages it emits.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { deflateSync } from "node:zlib";

import ts from "typescript";

export const TESTS_DIR = dirname(fileURLToPath(import.meta.url));
export const PIPES_SRC_DIR = dirname(TESTS_DIR);
export const CHILD_SCRIPT = join(TESTS_DIR, "child.mjs");

export interface WireMessage {
  __dagster_pipes_version: string;
  method: string;
  params: Record<string, unknown> | null;
}

let built: string | undefined;

/**
 * Transpiles `src/pipes/*.ts` (without tests) to ES modules and returns the `file:` URL of the
 * resulting `index.js`. The output lives in a temp dir named after a hash of the sources, so
 * repeated runs and parallel test workers reuse it. Only needs the `typescript` package (a root
 * devDependency); type checking is the package's `typecheck` script's job.
 */
export function buildPipesModule(): string {
  if (built) return built;
  const sources = readdirSync(PIPES_SRC_DIR)
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.endsWith(".d.ts"))
    .sort()
    .map((file) => ({ file, source: readFileSync(join(PIPES_SRC_DIR, file), "utf8") }));
  const hash = createHash("sha256");
  hash.update(ts.version);
  for (const { file, source } of sources) hash.update(`${file}\0${source}\0`);
  const outDir = join(tmpdir(), `baton-pipes-build-${hash.digest("hex").slice(0, 16)}`);
  const indexFile = join(outDir, "index.js");
  if (!existsSync(indexFile)) {
    const staging = mkdtempSync(join(tmpdir(), "baton-pipes-staging-"));
    writeFileSync(join(staging, "package.json"), JSON.stringify({ type: "module" }));
    for (const { file, source } of sources) {
      const output = ts.transpileModule(source, {
        fileName: file,
        reportDiagnostics: true,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
          sourceMap: false,
        },
      });
      const errors = (output.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
      if (errors.length > 0) {
        throw new Error(`transpiling ${file} failed: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, "\n")}`);
      }
      writeFileSync(join(staging, file.replace(/\.ts$/, ".js")), output.outputText);
    }
    try {
      renameSync(staging, outDir);
    } catch (error) {
      // Another worker published the same build first.
      removeDir(staging);
      if (!existsSync(indexFile)) throw error;
    }
  }
  built = pathToFileURL(indexFile).href;
  return built;
}

/** `base64(zlib(json))`, written independently of the module under test. */
export function encode(value: unknown): string {
  return deflateSync(Buffer.from(JSON.stringify(value), "utf8")).toString("base64");
}

export function makeTempDir(prefix = "baton-pipes-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A context payload as `build_external_execution_context_data` produces it (all ten keys). */
export function baseContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    asset_keys: ["warehouse/orders"],
    code_version_by_asset_key: { "warehouse/orders": "v3" },
    provenance_by_asset_key: { "warehouse/orders": null },
    partition_key: "2024-01-02",
    partition_key_range: { start: "2024-01-02", end: "2024-01-02" },
    partition_time_window: { start: "2024-01-02T00:00:00+00:00", end: "2024-01-03T00:00:00+00:00" },
    run_id: "11111111-2222-3333-4444-555555555555",
    job_name: "__ephemeral_asset_job__",
    retry_number: 0,
    extras: { greeting: "hello", nested: { n: 1 } },
    ...overrides,
  };
}

export type MessagesMode =
  | { kind: "file"; includeStdio?: boolean }
  | { kind: "stdio"; stream: "stdout" | "stderr" }
  | { kind: "buffered_stdio"; stream: "stdout" | "stderr" };

export interface RunChildOptions {
  scenario: string;
  /** Context payload; omitted → {@link baseContext}. */
  context?: Record<string, unknown>;
  /** How the context is injected (default `path`). */
  contextVia?: "path" | "data";
  messages?: MessagesMode;
  /** How the params reach the child (default `env`); `none` = not launched by Dagster. */
  carrier?: "env" | "cli" | "cli-equals" | "none";
  env?: Record<string, string>;
  /** Send this signal once the child printed `READY` on stderr. */
  interruptWith?: NodeJS.Signals;
  timeoutMs?: number;
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Messages parsed from the file or from the selected stdio stream. */
  messages: WireMessage[];
  /** Lines of the messages carrier that were not messages. */
  otherLines: string[];
  /** Raw content of the messages file (file mode). */
  rawFile?: string;
}

/** Parses JSON lines the way the orchestrator's readers do: a line is a message iff it has the version key. */
export function parseMessageLines(text: string): { messages: WireMessage[]; other: string[] } {
  const messages: WireMessage[] = [];
  const other: string[] = [];
  for (const line of text.split("\n")) {
    if (line.length === 0) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      other.push(line);
      continue;
    }
    if (typeof parsed === "object" && parsed !== null && "__dagster_pipes_version" in parsed) {
      messages.push(parsed as WireMessage);
    } else {
      other.push(line);
    }
  }
  return { messages, other };
}

export async function runChild(options: RunChildOptions): Promise<ChildRun> {
  const moduleUrl = buildPipesModule();
  const dir = makeTempDir();
  try {
    const context = options.context ?? baseContext();
    let contextParams: Record<string, unknown>;
    if ((options.contextVia ?? "path") === "path") {
      const contextPath = join(dir, "context");
      writeFileSync(contextPath, JSON.stringify(context));
      contextParams = { path: contextPath };
    } else {
      contextParams = { data: context };
    }
    const mode = options.messages ?? { kind: "file" };
    const messagesPath = join(dir, "messages");
    let messagesParams: Record<string, unknown>;
    if (mode.kind === "file") {
      writeFileSync(messagesPath, "");
      messagesParams = { path: messagesPath, include_stdio_in_messages: mode.includeStdio ?? false };
    } else if (mode.kind === "stdio") {
      messagesParams = { stdio: mode.stream };
    } else {
      messagesParams = { buffered_stdio: mode.stream };
    }

    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("DAGSTER_PIPES_") && !key.startsWith("VITEST")) env[key] = value;
    }
    env["BATON_PIPES_MODULE_URL"] = moduleUrl;
    env["PIPES_SCENARIO"] = options.scenario;
    Object.assign(env, options.env ?? {});
    const args = [CHILD_SCRIPT];
    const carrier = options.carrier ?? "env";
    if (carrier === "env") {
      env["DAGSTER_PIPES_CONTEXT"] = encode(contextParams);
      env["DAGSTER_PIPES_MESSAGES"] = encode(messagesParams);
    } else if (carrier === "cli") {
      args.push("--dagster-pipes-context", encode(contextParams), "--dagster-pipes-messages", encode(messagesParams));
    } else if (carrier === "cli-equals") {
      args.push(`--dagster-pipes-context=${encode(contextParams)}`, `--dagster-pipes-messages=${encode(messagesParams)}`);
    }

    const child = spawn(process.execPath, args, { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let interrupted = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (options.interruptWith && !interrupted && stderr.includes("READY\n")) {
        interrupted = true;
        child.kill(options.interruptWith);
      }
    });
    const timeoutMs = options.timeoutMs ?? 20_000;
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`child timed out after ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        child.on("error", reject);
        child.on("close", (c, s) => {
          clearTimeout(timer);
          resolve({ code: c, signal: s });
        });
      },
    );

    let carrierText: string;
    let rawFile: string | undefined;
    if (mode.kind === "file") {
      rawFile = existsSync(messagesPath) ? readFileSync(messagesPath, "utf8") : "";
      carrierText = rawFile;
    } else {
      carrierText = mode.stream === "stdout" ? stdout : stderr;
    }
    const { messages, other } = parseMessageLines(carrierText);
    return { code, signal, stdout, stderr, messages, otherLines: other, ...(rawFile === undefined ? {} : { rawFile }) };
  } finally {
    removeDir(dir);
  }
}

export function methods(run: ChildRun): string[] {
  return run.messages.map((m) => m.method);
}

export function findMessage(run: ChildRun, method: string): WireMessage {
  const found = run.messages.find((m) => m.method === method);
  if (!found) throw new Error(`no ${method} message; got ${methods(run).join(", ")}; stderr:\n${run.stderr}`);
  return found;
}
