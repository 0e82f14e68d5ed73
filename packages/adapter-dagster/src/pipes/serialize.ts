import { DagsterPipesError } from "./errors.js";

/**
 * A number that must reach the orchestrator as a Python `float`.
 *
 * The orchestrator parses messages with Python's `json.loads`, which turns `2` into an `int` and
 * `2.0` into a `float`, and `MetadataValue.float(2)` is rejected there. JavaScript cannot tell 2
 * from 2.0, so float-typed metadata is wrapped in this marker and written with a decimal point
 * (`2.0`). Non-finite values are written as `NaN` / `Infinity` / `-Infinity`, which Python's
 * `json.loads` accepts (and its `json.dumps` produces).
 */
export class PipesFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  toJSON(): number {
    return this.value;
  }
}

function floatLiteral(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  if (Object.is(value, -0)) return "-0.0";
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

function numberLiteral(value: number): string {
  if (!Number.isFinite(value)) return "null"; // same as JSON.stringify
  // Integers >= 1e21 would print in exponent form, which Python reads as a float.
  if (Number.isInteger(value) && Math.abs(value) >= 1e21) return BigInt(value).toString();
  return JSON.stringify(value);
}

/**
 * Serialises a message to one line of JSON. Follows `JSON.stringify` semantics (toJSON,
 * `undefined`/functions dropped from objects and written as `null` in arrays) with three
 * additions: {@link PipesFloat} is written as a float literal, `bigint` as an integer literal,
 * and cycles / unsupported values raise a {@link DagsterPipesError} naming the offending path.
 */
export function serializeJson(value: unknown, what = "message"): string {
  const out = write(value, new Set(), what, "$");
  if (out === undefined) {
    throw new DagsterPipesError(`Cannot serialize ${what}: value is not JSON-serializable.`);
  }
  return out;
}

function write(value: unknown, stack: Set<object>, what: string, path: string): string | undefined {
  if (value instanceof PipesFloat) return floatLiteral(value.value);
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: (key: string) => unknown }).toJSON("");
    if (value instanceof PipesFloat) return floatLiteral(value.value);
  }
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return numberLiteral(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    default:
      break;
  }
  if (value === null) return "null";
  const obj = value as object;
  if (stack.has(obj)) {
    throw new DagsterPipesError(`Cannot serialize ${what}: circular reference at ${path}.`);
  }
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.map((item: unknown, index) => write(item, stack, what, `${path}[${index}]`) ?? "null");
      return `[${items.join(",")}]`;
    }
    if (obj instanceof Map || obj instanceof Set) {
      throw new DagsterPipesError(
        `Cannot serialize ${what}: ${obj instanceof Map ? "Map" : "Set"} at ${path} is not JSON-serializable; convert it to a plain object or array.`,
      );
    }
    const parts: string[] = [];
    for (const [key, item] of Object.entries(obj)) {
      const encoded = write(item, stack, what, `${path}.${key}`);
      if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    stack.delete(obj);
  }
}
