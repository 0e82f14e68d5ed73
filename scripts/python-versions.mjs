#!/usr/bin/env node
// The Python distributions move with the npm package that ships them (.changeset/README.md):
// each packages/<pkg>/python/pyproject.toml has its package.json's version, and each adapter's
// `baton-core` dependency is the range of its npm peer dependency on @baton/core (`^0.1.0` →
// `baton-core>=0.1.0,<0.2.0`): the wheel accepts exactly the cores the npm package does, so a core
// release inside that range never changes an adapter's wheel. Builds pin both exactly anyway.
//   node scripts/python-versions.mjs [--check]   list every mismatch, exit 1 if there is one
//   node scripts/python-versions.mjs --write     fix them in place (after `pnpm version-packages`)
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const mode = process.argv[2] ?? "--check";
if (!["--check", "--write"].includes(mode) || process.argv.length > 3) {
  console.error("usage: node scripts/python-versions.mjs [--check|--write]");
  process.exit(2);
}

/** npm's semver as PEP 440: 1.2.3 stays, 1.2.3-alpha.4 / -beta.4 / -rc.4 become 1.2.3a4 / b4 / rc4. */
function pep440(version, where) {
  const m = /^(\d+\.\d+\.\d+)(?:-(alpha|beta|rc)\.(\d+))?$/.exec(version);
  if (!m) {
    throw new Error(`${where}: version "${version}" has no Python form; use X.Y.Z or X.Y.Z-alpha|beta|rc.N (changeset pre tags alpha, beta, rc)`);
  }
  return m[2] ? `${m[1]}${{ alpha: "a", beta: "b", rc: "rc" }[m[2]]}${m[3]}` : m[1];
}

/** npm's caret range as PEP 440: ^0.1.2 → >=0.1.2,<0.2.0; ^1.2.3 → >=1.2.3,<2.0.0. */
function caretRange(range, where) {
  const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range ?? "");
  if (!m) throw new Error(`${where}: peerDependencies["@baton/core"] is "${range}"; use a caret range (^X.Y.Z) the wheel can mirror`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const upper = major > 0 ? `${major + 1}.0.0` : `0.${minor + 1}.0`;
  return `>=${m[1]}.${m[2]}.${m[3]},<${upper}`;
}

/** The [project] table of a pyproject: its text span, so edits stay inside it. */
function projectTable(text, file) {
  const start = text.search(/^\[project\]\s*$/m);
  if (start < 0) throw new Error(`${file}: no [project] table`);
  const rest = text.slice(start + 1);
  const next = rest.search(/^\[/m);
  return [start, next < 0 ? text.length : start + 1 + next];
}

const packages = readdirSync(join(root, "packages"))
  .filter((dir) => existsSync(join(root, "packages", dir, "python", "pyproject.toml")))
  .sort()
  .map((dir) => {
    const pkgDir = join(root, "packages", dir);
    const npm = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    const file = join(pkgDir, "python", "pyproject.toml");
    return { npm, file, rel: relative(root, file), text: readFileSync(file, "utf8") };
  });
const core = packages.find((p) => p.npm.name === "@baton/core");

const problems = [];
const unbumped = [];
let changed = 0;
try {
  if (!core) throw new Error("packages/core/python/pyproject.toml is missing");
  for (const p of packages) {
    const want = pep440(p.npm.version, relative(root, join(p.file, "../../package.json")));
    const [from, to] = projectTable(p.text, p.rel);
    let table = p.text.slice(from, to);
    const expectedName = `baton-${p.npm.name.replace(/^@baton\/(adapter-)?/, "")}`;
    const name = /^name\s*=\s*"([^"]*)"/m.exec(table)?.[1];
    if (name !== expectedName) problems.push(`${p.rel}: name is "${name}", but ${p.npm.name} ships "${expectedName}" (fix by hand)`);
    const version = /^version\s*=\s*"([^"]*)"/m.exec(table)?.[1];
    if (version === undefined) throw new Error(`${p.rel}: [project] has no version = "…"`);
    if (version !== want) {
      problems.push(`${p.rel}: version ${version}, but ${p.npm.name} is ${p.npm.version} (Python: ${want})`);
      table = table.replace(/^(version\s*=\s*)"[^"]*"/m, `$1"${want}"`);
    }
    if (p !== core) {
      const range = caretRange(p.npm.peerDependencies?.["@baton/core"], relative(root, join(p.file, "../../package.json")));
      const pin = /"baton-core([^"]*)"/.exec(table)?.[1];
      if (pin === undefined) {
        problems.push(`${p.rel}: no "baton-core…" in dependencies (an adapter's wheel needs baton-core; fix by hand)`);
      } else if (pin !== range) {
        problems.push(`${p.rel}: depends on "baton-core${pin}", but ${p.npm.name}'s peer range on @baton/core is ${p.npm.peerDependencies["@baton/core"]} (Python: baton-core${range})`);
        table = table.replace(/"baton-core[^"]*"/, `"baton-core${range}"`);
        // The dependency is part of the wheel: a new one under an old version would be a second,
        // different wheel of that version.
        if (version === want) unbumped.push(p.npm.name);
      }
    }
    const text = p.text.slice(0, from) + table + p.text.slice(to);
    if (mode === "--write" && text !== p.text) {
      writeFileSync(p.file, text);
      changed += 1;
    }
  }
} catch (e) {
  console.error(`✘ ${e.message}`);
  process.exit(2);
}

if (mode === "--write") {
  const manual = problems.filter((p) => p.endsWith("(fix by hand)"));
  console.log(changed ? `updated ${changed} pyproject.toml file(s)` : "every Python version already matches");
  for (const m of manual) console.error(`✘ ${m}`);
  for (const name of unbumped) {
    console.error(
      `✘ ${name}'s baton-core range changed but its version did not: its wheel would change under the same version\n` +
        `  fix: pnpm changeset --patch ${name} -m "Accept the @baton/core range of its peer dependency", then pnpm version-packages and this script again`,
    );
  }
  process.exit(manual.length || unbumped.length ? 1 : 0);
}
if (problems.length) {
  for (const p of problems) console.error(`✘ ${p}`);
  console.error("  fix: node scripts/python-versions.mjs --write (Python versions move with their npm package)");
  process.exit(1);
}
console.log(`✔ ${packages.length} Python distributions match their npm packages`);
