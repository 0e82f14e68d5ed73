/**
 * Bootstrap params: how the orchestrator tells the external process where its context is and
 * where to write messages. Each value is `base64(zlib(json))` and arrives either in the env vars
 * `DAGSTER_PIPES_CONTEXT` / `DAGSTER_PIPES_MESSAGES` (what `PipesSubprocessClient` uses) or as
 * the CLI arguments `--dagster-pipes-context` / `--dagster-pipes-messages`
 * (`PipesSession.get_bootstrap_cli_arguments()`).
 */
import { Buffer } from "node:buffer";
import { deflateSync, inflateSync } from "node:zlib";
import process from "node:process";

import { DagsterPipesError } from "./errors.js";
import {
  DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT,
  DAGSTER_PIPES_CONTEXT_ENV_VAR,
  DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT,
  DAGSTER_PIPES_MESSAGES_ENV_VAR,
  type PipesParams,
} from "./protocol.js";

/** `base64(zlib.compress(json.dumps(value)))`, as Python's `encode_param`. */
export function encodeParam(value: unknown): string {
  const json = JSON.stringify(value);
  if (typeof json !== "string") throw new DagsterPipesError("encodeParam: value is not JSON-serializable.");
  return deflateSync(Buffer.from(json, "utf8")).toString("base64");
}

/** Inverse of {@link encodeParam}, as Python's `decode_param`. */
export function decodeParam(value: string): unknown {
  let inflated: Buffer;
  try {
    inflated = inflateSync(Buffer.from(value, "base64"));
  } catch (error) {
    throw new DagsterPipesError(
      "Could not decode a Dagster Pipes param: expected base64 of zlib-compressed JSON.",
      { cause: error },
    );
  }
  try {
    return JSON.parse(inflated.toString("utf8")) as unknown;
  } catch (error) {
    throw new DagsterPipesError("Could not decode a Dagster Pipes param: the payload is not JSON.", {
      cause: error,
    });
  }
}

function decodeParamsObject(value: string, source: string): PipesParams {
  const decoded = decodeParam(value);
  if (typeof decoded !== "object" || decoded === null || Array.isArray(decoded)) {
    throw new DagsterPipesError(`Invalid Dagster Pipes params in ${source}: expected a JSON object.`);
  }
  return decoded as PipesParams;
}

/** Loads the params that bootstrap the context loader and the message writer. */
export interface PipesParamsLoader {
  /** Whether this process was launched by a Dagster orchestration process. */
  isDagsterPipesProcess(): boolean;
  /** Params of the orchestrator's context injector (e.g. `{path}` or `{data}`). */
  loadContextParams(): PipesParams;
  /** Params of the orchestrator's message reader (e.g. `{path}`, `{stdio}`, `{buffered_stdio}`). */
  loadMessagesParams(): PipesParams;
}

/** Reads the two params from a string mapping (`PipesMappingParamsLoader`). */
export class PipesMappingParamsLoader implements PipesParamsLoader {
  protected readonly mapping: Readonly<Record<string, string | undefined>>;

  constructor(mapping: Readonly<Record<string, string | undefined>>) {
    this.mapping = mapping;
  }

  /** Presence of `DAGSTER_PIPES_CONTEXT` alone decides, as in Python. */
  isDagsterPipesProcess(): boolean {
    return this.mapping[DAGSTER_PIPES_CONTEXT_ENV_VAR] !== undefined;
  }

  loadContextParams(): PipesParams {
    return decodeParamsObject(this.require(DAGSTER_PIPES_CONTEXT_ENV_VAR), DAGSTER_PIPES_CONTEXT_ENV_VAR);
  }

  loadMessagesParams(): PipesParams {
    return decodeParamsObject(this.require(DAGSTER_PIPES_MESSAGES_ENV_VAR), DAGSTER_PIPES_MESSAGES_ENV_VAR);
  }

  private require(key: string): string {
    const value = this.mapping[key];
    if (value === undefined) {
      throw new DagsterPipesError(`Missing Dagster Pipes param: ${key} is not set.`);
    }
    return value;
  }
}

/** Reads the params from environment variables (`PipesEnvVarParamsLoader`, the default). */
export class PipesEnvVarParamsLoader extends PipesMappingParamsLoader {
  constructor(env: Readonly<Record<string, string | undefined>> = process.env) {
    super(env);
  }
}

/**
 * Finds the value of a `--name value` or `--name=value` argument; the last occurrence wins
 * (argparse's `store` action).
 */
export function findCliArgument(argv: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === undefined) continue;
    if (arg === "--") break;
    if (arg === name) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        found = next;
        i++;
      } else {
        throw new DagsterPipesError(`Missing value for CLI argument ${name}.`);
      }
    } else if (arg.startsWith(`${name}=`)) {
      found = arg.slice(name.length + 1);
    }
  }
  return found;
}

/**
 * Reads the params from `--dagster-pipes-context <enc>` / `--dagster-pipes-messages <enc>`
 * (`PipesCliArgsParamsLoader`). Also accepts the `--name=<enc>` spelling.
 */
export class PipesCliArgsParamsLoader implements PipesParamsLoader {
  private readonly argv: readonly string[];

  constructor(argv: readonly string[] = process.argv.slice(2)) {
    this.argv = argv;
  }

  isDagsterPipesProcess(): boolean {
    return this.argv.some(
      (arg) => arg === DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT || arg.startsWith(`${DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT}=`),
    );
  }

  loadContextParams(): PipesParams {
    return decodeParamsObject(this.require(DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT), DAGSTER_PIPES_CONTEXT_CLI_ARGUMENT);
  }

  loadMessagesParams(): PipesParams {
    return decodeParamsObject(this.require(DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT), DAGSTER_PIPES_MESSAGES_CLI_ARGUMENT);
  }

  private require(name: string): string {
    const value = findCliArgument(this.argv, name);
    if (value === undefined) throw new DagsterPipesError(`Missing Dagster Pipes CLI argument ${name}.`);
    return value;
  }
}

/** Which carrier {@link openDagsterPipes} reads the params from. */
export type PipesParamsSource = "auto" | "env" | "cli";

/**
 * Resolves a params loader: `"env"` and `"cli"` pick one carrier; `"auto"` (the default) uses the
 * env vars when `DAGSTER_PIPES_CONTEXT` is set, else the CLI arguments when
 * `--dagster-pipes-context` is present, else the (inactive) env loader.
 */
export function resolveParamsLoader(
  source: PipesParamsLoader | PipesParamsSource = "auto",
): PipesParamsLoader {
  if (typeof source === "object") return source;
  if (source === "env") return new PipesEnvVarParamsLoader();
  if (source === "cli") return new PipesCliArgsParamsLoader();
  const env = new PipesEnvVarParamsLoader();
  if (env.isDagsterPipesProcess()) return env;
  const cli = new PipesCliArgsParamsLoader();
  return cli.isDagsterPipesProcess() ? cli : env;
}

/** Whether this process was launched by Dagster Pipes (see {@link resolveParamsLoader}). */
export function isDagsterPipesProcess(
  source: PipesParamsLoader | PipesParamsSource = "auto",
): boolean {
  return resolveParamsLoader(source).isDagsterPipesProcess();
}
