import { run } from "./exec.js";

/** Versions of `name` the registry at `url` holds, as `npm view NAME versions --registry URL` reports them ([] when unknown). */
export async function registryVersions(name: string, url: string, cwd: string): Promise<string[]> {
  const r = await run("npm", ["view", name, "versions", "--json", "--registry", url, `--${name.split("/")[0]}:registry=${url}`, "--prefer-online"], {
    cwd,
    allowFailure: true,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) {
    if (/E404|not found|404/i.test(r.stdout + r.stderr)) return [];
    throw new Error(`npm view ${name} versions failed: ${r.stderr || r.stdout}`);
  }
  const parsed = JSON.parse(r.stdout) as string | string[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

export interface PackumentVersion {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly devDependencies?: Record<string, string>;
}

/** The published manifest of `name@version` on the registry at `url`. */
export async function published(name: string, version: string, url: string): Promise<PackumentVersion> {
  const res = await fetch(`${url}${name.replace("/", "%2f")}`);
  if (!res.ok) throw new Error(`GET ${url}${name}: ${res.status}`);
  const doc = (await res.json()) as { versions: Record<string, PackumentVersion> };
  const v = doc.versions[version];
  if (!v) throw new Error(`${name}@${version} is not on ${url} (it has ${Object.keys(doc.versions).join(", ")})`);
  return v;
}

interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly link?: boolean;
  readonly dev?: boolean;
}
export interface PackageLock {
  readonly packages: Record<string, LockEntry>;
}

/** Package name of a lockfile key: "node_modules/a/node_modules/@s/b" → "@s/b". */
export const lockName = (key: string) => key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);

/**
 * The lockfile entries reachable from `roots` through dependencies, optional dependencies and
 * (non-optional) peer dependencies, resolved as Node would: from the dependent's own
 * node_modules outwards.
 */
export function reachable(lock: PackageLock, roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const locate = (from: string, name: string): string | undefined => {
    for (let base = from; ; ) {
      const key = `${base ? `${base}/` : ""}node_modules/${name}`;
      if (lock.packages[key]) return key;
      if (!base) return undefined;
      const i = base.lastIndexOf("/node_modules/");
      base = i < 0 ? "" : base.slice(0, i);
    }
  };
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const e = lock.packages[key]!;
    const names = [
      ...Object.keys(e.dependencies ?? {}),
      ...Object.keys(e.optionalDependencies ?? {}),
      ...Object.keys(e.peerDependencies ?? {}).filter((p) => !e.peerDependenciesMeta?.[p]?.optional),
    ];
    for (const n of names) {
      const target = locate(key, n);
      if (target) visit(target);
    }
  };
  for (const r of roots) {
    const key = `node_modules/${r}`;
    if (!lock.packages[key]) throw new Error(`${r} is not in the lockfile`);
    visit(key);
  }
  return seen;
}
