import { lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { isAbsolute, join, posix, resolve } from "node:path";
import { findCheckout } from "./relocation.js";

export interface PortabilityOptions {
  /** More path prefixes that must not appear (the original build folder, a project folder). */
  readonly forbidden?: readonly string[];
  /** More folders (relative, "/" separators) to leave out, besides baton/runtime/node_modules and wheels. */
  readonly exclude?: readonly string[];
  /** The checkout whose path must not appear (default: the monorepo above this package). */
  readonly checkout?: string;
}

const SKIPPED = ["baton/runtime/node_modules", "wheels"];
/** Absolute roots a build-time path starts with on the machines we build on. */
const ABSOLUTE_ROOTS = ["/work/", "/tmp/", "/home/", "/root/", "/Users/"];
/** Characters that continue a path or a word: a match next to one is part of something else. */
const PATH_CHAR = /[\w.~-]/;
/** URLs name places on the network, not on the build machine; file: URLs are paths and stay. */
const URL = /\b(?!file:)[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>()]*/gi;
/**
 * A ".." path segment: "../" or "..\" not continuing a name, or "/.." and "\.." ending a path (so a
 * regex's "\..*" is not one).
 */
const DOTDOT = /(?<![\w.~-])\.\.(?=[/\\])|(?<=[/\\])\.\.(?=$|[/\\\s"'`,;)\]}])/g;
/** What ends a path token in code, JSON, YAML or prose. */
const TOKEN_END = /[\s"'`,;<>()[\]{}=]/;

function startsToken(line: string, at: number): boolean {
  const before = line[at - 1];
  if (before === undefined) return true;
  if (before === "/") return line.slice(0, at).endsWith("file://");
  return !PATH_CHAR.test(before) && before !== "\\";
}

function endsToken(line: string, end: number): boolean {
  const after = line[end];
  return after === undefined || !PATH_CHAR.test(after);
}

/** The start and end of the path-like token around `at`. */
function tokenSpan(line: string, at: number): [number, number] {
  let start = at;
  while (start > 0 && !TOKEN_END.test(line[start - 1] ?? "")) start--;
  let end = at;
  while (end < line.length && !TOKEN_END.test(line[end] ?? "")) end++;
  return [start, end];
}

/** The path-like token starting at `at`, for the message. */
function tokenAt(line: string, at: number): string {
  return line.slice(at, tokenSpan(line, at)[1]);
}

function lineProblems(line: string, prefixes: readonly { text: string; what: string }[]): string[] {
  const text = line.replace(URL, (m) => " ".repeat(m.length));
  const found = new Map<number, string>();
  for (const { text: prefix, what } of prefixes) {
    for (let at = text.indexOf(prefix); at !== -1; at = text.indexOf(prefix, at + 1)) {
      if (found.has(at) || !startsToken(text, at) || !endsToken(text, at + prefix.length)) continue;
      found.set(at, `${what} in "${tokenAt(text, at)}"`);
    }
  }
  for (const m of text.matchAll(DOTDOT)) {
    // "../../x" is one problem: keyed by the token it is in
    const [start, end] = tokenSpan(text, m.index);
    if (found.has(start) || found.has(start + 0.5)) continue;
    found.set(start + 0.5, `".." path segment in "${text.slice(start, end)}"`);
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, what]) => what);
}

/** Every file and symlink under `dir`; `read` is false inside the skipped folders (links only). */
function* files(dir: string, rel: string, skipped: readonly string[], read = true): Generator<{ path: string; read: boolean }> {
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const inSkipped = !read || skipped.some((s) => path === s || path.startsWith(`${s}/`));
    const stat = lstatSync(join(dir, path));
    if (stat.isDirectory()) yield* files(dir, path, skipped, !inSkipped);
    else yield { path, read: !inSkipped };
  }
}

/**
 * Everything in a build folder that ties it to the machine it was built on: the checkout, home or
 * temp path, a `forbidden` prefix, an absolute /work/, /tmp/, /home/, /root/ or /Users/ path, a ".."
 * segment (once per path: "../../x" is one), a symlink that is absolute or leaves the folder. Text
 * files only (a NUL byte marks a binary); the contents of the runtime's node_modules and of the wheels
 * are third-party bytes and are left out, their symlinks are not. Each entry is
 * "<file>:<line>: <what>" with the file relative to `dir`; empty when the folder is portable.
 */
export function portabilityProblems(dir: string, options: PortabilityOptions = {}): string[] {
  const root = resolve(dir);
  let checkout: string | undefined = options.checkout;
  if (checkout === undefined) {
    try {
      checkout = findCheckout();
    } catch {
      // installed outside a monorepo: nothing to name
    }
  }
  const prefixes = [
    ...(checkout ? [{ text: checkout, what: "the checkout path" }] : []),
    ...(options.forbidden ?? []).map((f) => ({ text: f, what: `the forbidden path ${f}` })),
    { text: homedir(), what: "the home folder" },
    { text: tmpdir(), what: "the temp folder" },
    ...ABSOLUTE_ROOTS.map((r) => ({ text: r, what: "an absolute path" })),
  ]
    // "/work/" → "/work": a prefix matches when what follows it does not continue a name
    .map((p) => ({ ...p, text: p.text.replace(/\/+$/, "") }))
    .filter((p) => p.text.length > 1);
  const problems: string[] = [];
  for (const { path: file, read } of files(root, "", [...SKIPPED, ...(options.exclude ?? [])])) {
    const full = join(root, file);
    // links are checked everywhere: a node_modules link into a pnpm store breaks a copy as surely
    if (lstatSync(full).isSymbolicLink()) {
      const target = readlinkSync(full);
      const lands = posix.normalize(posix.join(posix.dirname(file), target));
      if (isAbsolute(target)) problems.push(`${file}:0: symlink to the absolute path ${target}`);
      else if (lands === ".." || lands.startsWith("../")) problems.push(`${file}:0: symlink ${target} leaves the folder`);
      continue;
    }
    if (!read) continue;
    const bytes = readFileSync(full);
    if (bytes.includes(0)) continue;
    const lines = bytes.toString("utf8").split(/\r?\n/);
    lines.forEach((line, i) => {
      for (const what of lineProblems(line, prefixes)) problems.push(`${file}:${i + 1}: ${what}`);
    });
  }
  return problems;
}
