import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { BatonError } from "../errors.js";

export interface Project {
  /** Folder of the package.json that names the definitions. */
  readonly root: string;
  readonly definitions: string;
  readonly exportName: string;
}

/**
 * The project is the nearest package.json (from cwd upwards) with a "baton" field:
 *   "baton": { "definitions": "./src/definitions.ts", "export": "default" }
 * `--definitions FILE` overrides it.
 */
export function findProject(cwd: string, override?: string): Project {
  if (override) {
    const file = resolve(cwd, override);
    return { root: findRoot(dirname(file)) ?? dirname(file), definitions: file, exportName: "default" };
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const pkgPath = join(dir, "package.json");
    if (existsSync(pkgPath)) {
      const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { baton?: { definitions?: string; export?: string } };
      if (pkg.baton?.definitions) return { root: dir, definitions: resolve(dir, pkg.baton.definitions), exportName: pkg.baton.export ?? "default" };
    }
    if (dirname(dir) === dir) break;
  }
  throw new BatonError("CONFIG", `no Baton project found from ${cwd}`, {
    hint: 'add "baton": { "definitions": "./src/definitions.ts" } to your package.json, or pass --definitions FILE',
  });
}

function findRoot(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
