import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Ajv2020 } from "ajv/dist/2020.js";
import { BatonError } from "../errors.js";
import { ACCEPTED_MANIFEST_VERSIONS, type Manifest } from "./types.js";

let validator: ReturnType<Ajv2020["compile"]> | undefined;

/**
 * Problems with a manifest against the published JSON Schema; empty when valid. Ajv is loaded and
 * the schema compiled on first use only (~0.4 s): a step process, which reads a manifest its build
 * already validated, never pays for it.
 */
export function manifestProblems(value: unknown): string[] {
  if (!validator) {
    const { Ajv2020: Ajv } = createRequire(import.meta.url)("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js");
    const schema = JSON.parse(readFileSync(new URL("../../schema/manifest.schema.json", import.meta.url), "utf8")) as object;
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  if (validator(value)) return [];
  return (validator.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
}

/**
 * Read and check a manifest; a broken or foreign file gets an error that names it. `schema: false`
 * keeps the parse and version checks but skips the full schema (for steps launched from a build
 * that validated it).
 */
export function readManifest(path: string, acceptedVersions: readonly number[] = ACCEPTED_MANIFEST_VERSIONS, reader = "@baton/core", options: { schema?: boolean } = {}): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new BatonError("MANIFEST", `cannot read the manifest: ${(e as Error).message}`, { file: path, hint: "rebuild it with `baton manifest` (or your adapter's build command)" });
  }
  const version = (value as { manifestVersion?: unknown } | null)?.manifestVersion;
  if (typeof version === "number" && !acceptedVersions.includes(version)) {
    throw new BatonError("MANIFEST", `manifest version ${version} is not one ${reader} can read (it reads ${acceptedVersions.join(", ")})`, {
      file: path,
      hint: `rebuild the manifest with a @baton/core that writes version ${acceptedVersions.at(-1)}, or upgrade ${reader}`,
    });
  }
  if (typeof version !== "number") {
    throw new BatonError("MANIFEST", "the file is not a Baton manifest (no manifestVersion)", { file: path, hint: "rebuild it with `baton manifest` (or your adapter's build command)" });
  }
  if (options.schema === false) return value as Manifest;
  const problems = manifestProblems(value);
  if (problems.length > 0) {
    throw new BatonError("MANIFEST", `the manifest does not match its schema:\n    ${problems.slice(0, 10).join("\n    ")}`, {
      file: path,
      hint: "do not edit manifests by hand; rebuild it with `baton manifest`",
    });
  }
  return value as Manifest;
}
