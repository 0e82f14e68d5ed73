import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { BatonError } from "../errors.js";
import { packFiles } from "./pack-files.js";

/** One package of the production closure, where it is installed and where the runtime gets it. */
export interface PlacedPackage {
  readonly name: string;
  readonly version: string;
  /** Real path of the installed package folder. */
  readonly source: string;
  /** Its folder in the runtime, npm-style: `node_modules/a` or `node_modules/a/node_modules/b`. */
  readonly location: string;
  /** A workspace package (not under any node_modules): copied as `npm pack` would publish it. */
  readonly workspace: boolean;
}

export interface RuntimeClosure {
  /** Direct dependencies (the bundle's imports and the step package) at their exact installed versions, sorted. */
  readonly direct: Readonly<Record<string, string>>;
  /** Sorted by location. */
  readonly packages: readonly PlacedPackage[];
}

export interface PackageJson {
  name?: string;
  version?: string;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface Installed {
  readonly dir: string;
  readonly pkg: PackageJson;
}

const readPkg = (dir: string) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;

/**
 * Where `name` resolves from `fromDir` with Node's rules: its package.json through require.resolve,
 * or, for packages whose `exports` hide package.json, the first `node_modules/<name>` walking up.
 */
export function resolveInstalled(name: string, fromDir: string): Installed | undefined {
  let dir: string | undefined;
  try {
    dir = dirname(createRequire(join(fromDir, "package.json")).resolve(`${name}/package.json`));
  } catch {
    for (let d = fromDir; ; d = dirname(d)) {
      const candidate = join(d, "node_modules", name);
      if (existsSync(join(candidate, "package.json"))) {
        dir = candidate;
        break;
      }
      if (dirname(d) === d) break;
    }
  }
  if (!dir) return undefined;
  const real = realpathSync(dir);
  return { dir: real, pkg: readPkg(real) };
}

const isRegistryInstall = (dir: string) => dir.split(sep).includes("node_modules");

/**
 * The production closure of `roots` as installed for the project at `projectRoot`: each root,
 * then recursively its `dependencies`, installed `optionalDependencies` and resolvable
 * `peerDependencies` (for @baton/core's, also those installed in the project: the AWS SDK an
 * s3:// store loads). Laid out like npm: the first version met of a name at the top level, another
 * version nested under the package that needs it. Breadth-first, names sorted: deterministic.
 */
export function planClosure(projectRoot: string, roots: readonly string[]): RuntimeClosure {
  const placed = new Map<string, PlacedPackage>(); // location -> package
  const direct: Record<string, string> = {};
  const queue: PlacedPackage[] = [];
  const place = (name: string, found: Installed, location: string) => {
    const p: PlacedPackage = { name, version: found.pkg.version ?? "0.0.0", source: found.dir, location, workspace: !isRegistryInstall(found.dir) };
    placed.set(location, p);
    queue.push(p);
    return p;
  };
  for (const name of [...new Set(roots)].sort()) {
    const found = resolveInstalled(name, projectRoot);
    if (!found) {
      throw new BatonError("CONFIG", `the definitions or the step need the package "${name}", which is not installed in the project`, {
        file: join(projectRoot, "package.json"),
        hint: `add it to the project's dependencies and install (e.g. pnpm add ${name})`,
      });
    }
    direct[name] = place(name, found, `node_modules/${name}`).version;
  }
  while (queue.length > 0) {
    const parent = queue.shift()!;
    const { dependencies = {}, optionalDependencies = {}, peerDependencies = {} } = readPkg(parent.source);
    const wanted = new Map<string, "required" | "optional">();
    for (const n of Object.keys(peerDependencies)) wanted.set(n, "optional");
    for (const n of Object.keys(optionalDependencies)) wanted.set(n, "optional");
    for (const n of Object.keys(dependencies)) if (!(n in optionalDependencies)) wanted.set(n, "required");
    for (const name of [...wanted.keys()].sort()) {
      // Core's optional peers (the AWS SDK for s3:// stores) installed in the project count too:
      // in the runtime they sit at the top level, where core finds them.
      const found = resolveInstalled(name, parent.source) ?? (parent.name === "@baton/core" && name in peerDependencies ? resolveInstalled(name, projectRoot) : undefined);
      if (!found) {
        if (wanted.get(name) === "optional") continue; // another platform's binary, an absent peer
        throw new BatonError("CONFIG", `${parent.name}@${parent.version} depends on "${name}", which is not installed`, {
          file: join(parent.source, "package.json"),
          hint: "reinstall the project's dependencies (pnpm install / npm ci) and build again",
        });
      }
      const version = found.pkg.version ?? "0.0.0";
      const visible = visibleFrom(parent.location, name, placed);
      if (visible?.version === version) continue;
      place(name, found, visible ? `${parent.location}/node_modules/${name}` : `node_modules/${name}`);
    }
  }
  const packages = [...placed.values()].sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
  return { direct: Object.fromEntries(Object.entries(direct).sort(([a], [b]) => (a < b ? -1 : 1))), packages };
}

/** The package Node would find as `name` from `location` in the layout so far (nearest node_modules first). */
function visibleFrom(location: string, name: string, placed: ReadonlyMap<string, PlacedPackage>): PlacedPackage | undefined {
  for (let at = location; ; ) {
    const hit = placed.get(`${at}/node_modules/${name}`);
    if (hit) return hit;
    const cut = at.lastIndexOf("/node_modules/");
    if (cut < 0) return placed.get(`node_modules/${name}`);
    at = at.slice(0, cut);
  }
}

/**
 * Copy the closure under `runtimeDir`. Registry installs are copied whole (minus nested
 * node_modules and .bin), hard-linked when on the same device: pnpm's store files are immutable.
 * Workspace packages are copied, never linked (tsc rewrites their dist in place), restricted to
 * the files `npm pack` publishes; `workspace:` ranges become the installed versions. Returns the
 * number of files.
 */
export function copyClosure(closure: RuntimeClosure, runtimeDir: string): number {
  const versions = new Map(closure.packages.map((p) => [p.name, p.version]));
  let count = 0;
  for (const p of closure.packages) {
    const dest = join(runtimeDir, ...p.location.split("/"));
    if (p.workspace) {
      const pkg = readPkg(p.source);
      for (const file of packFiles(p.source, pkg.files)) {
        const to = join(dest, ...file.split("/"));
        mkdirSync(dirname(to), { recursive: true });
        if (file === "package.json") writeFileSync(to, JSON.stringify(withoutWorkspaceRanges(pkg, versions), null, 2) + "\n");
        else copyFileSync(join(p.source, file), to);
        count++;
      }
    } else count += copyTree(p.source, dest);
  }
  return count;
}

function copyTree(from: string, to: string): number {
  mkdirSync(to, { recursive: true });
  let count = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === ".bin") continue;
    const src = join(from, entry.name);
    const dest = join(to, entry.name);
    const stat = entry.isSymbolicLink() ? statSync(src, { throwIfNoEntry: false }) : entry;
    if (!stat) continue; // a dangling link in a published package
    if (stat.isDirectory()) count += copyTree(src, dest);
    else {
      linkOrCopy(src, dest);
      count++;
    }
  }
  return count;
}

function linkOrCopy(src: string, dest: string): void {
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest); // another device, or a filesystem without hard links
  }
}

/** pnpm pack's rewrite: `workspace:*` → the version, `workspace:^` → `^version`, `workspace:~1` → `~1`. */
function withoutWorkspaceRanges(pkg: PackageJson, versions: ReadonlyMap<string, string>): PackageJson {
  const rewrite = (deps: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(deps).map(([name, range]) => {
        if (!range.startsWith("workspace:")) return [name, range];
        const spec = range.slice("workspace:".length);
        const version = versions.get(name) ?? "*";
        return [name, spec === "*" ? version : spec === "^" || spec === "~" ? `${spec}${version}` : spec];
      }),
    );
  const out: Record<string, unknown> = { ...pkg };
  for (const field of ["dependencies", "optionalDependencies", "peerDependencies", "devDependencies"]) {
    const deps = out[field] as Record<string, string> | undefined;
    if (deps) out[field] = rewrite(deps);
  }
  return out as PackageJson;
}
