import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { portabilityProblems } from "./portability.js";
import { findCheckout } from "./relocation.js";

const checkout = findCheckout();
let dirs: string[] = [];

function folder(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), "baton-portability-"));
  dirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe("portabilityProblems", () => {
  it("passes a clean build: relative paths, URLs, ellipses, version ranges, dotted names", () => {
    const dir = folder({
      "baton/manifest.json": JSON.stringify({ runtime: { module: "runtime/definitions-0123456789abcdef.mjs", stepEntry: "runtime/node_modules/@baton/core/dist/step/bin.js" } }, null, 2),
      "definitions.py": [
        '"""Dagster definitions for the Baton build... see https://docs.dagster.io/guides/../x and file sizes."""',
        "from .baton_core import load  # relative import, not a path",
        'MANIFEST = Path(__file__).parent / "baton" / "manifest.json"',
        "RANGE = 'v1..v2'  # a git range, and data/tmp/x is relative",
        "print('wait...')",
        'RESERVED = (".", "..")  # partition keys a store refuses, not paths',
        "HIDDEN = re.compile(r'\\..*')  # a regex, not a path",
        "",
      ].join("\n"),
      "prefect.yaml": "pull:\n  - prefect.deployments.steps.set_working_directory:\n      directory: '{{ $PWD }}'\n",
      "README.md": "Run `dg dev` in this folder. /workspace and /rooted are not our roots. ~/.config is fine.\n",
    });
    expect(portabilityProblems(dir)).toEqual([]);
  });

  it("finds each planted problem with its file and line", () => {
    const dir = folder({
      "baton/manifest.json": `{\n  "module": "../p/examples/x/.baton/build/definitions.mjs",\n  "stepEntry": "${checkout}/packages/adapter-dagster/dist/step-bin.js"\n}\n`,
      "prefect.yaml": "pull:\n  - set_working_directory:\n      directory: /work/other/build\n",
      "flows.py": `HOME = "${homedir()}/.cache"\nTMP = "${join(tmpdir(), "abc")}"\nsys.path.append(os.path.join(here, "../../lib"))\nWIN = "a\\\\..\\\\b"\nUSERS = "/Users/alice/x"\nsrc = "file:///home/bob/defs.ts"\n`,
      "baton/runtime/definitions-0123.mjs.map": `{"sources":["/opt/build/src/x.ts"]}\n`,
    });
    const problems = portabilityProblems(dir, { forbidden: ["/opt/build"] });
    expect(problems).toEqual([
      'baton/manifest.json:2: ".." path segment in "../p/examples/x/.baton/build/definitions.mjs"',
      expect.stringMatching(/^baton\/manifest\.json:3: the checkout path in ".*step-bin\.js"/),
      expect.stringMatching(/^baton\/runtime\/definitions-0123\.mjs\.map:1: the forbidden path \/opt\/build in "\/opt\/build\/src\/x\.ts"/),
      expect.stringMatching(/^flows\.py:1: (the home folder|an absolute path) in ".*\.cache"/),
      expect.stringMatching(/^flows\.py:2: the temp folder in "/),
      'flows.py:3: ".." path segment in "../../lib"',
      expect.stringMatching(/^flows\.py:4: "\.\." path segment/),
      expect.stringMatching(/^flows\.py:5: an absolute path in "\/Users\/alice\/x"/),
      expect.stringMatching(/^flows\.py:6: an absolute path in "\/home\/bob\/defs\.ts"/),
      expect.stringMatching(/^prefect\.yaml:3: an absolute path in "\/work\/other\/build"/),
    ]);
  });

  it("skips binaries and the contents of the runtime's node_modules and the wheels; flags symlinks that leave the folder", () => {
    const dir = folder({
      "baton/runtime/node_modules/x/index.js": `require("../y"); // ${checkout}\n`,
      "wheels/baton_core-0.1.0-py3-none-any.whl": `/work/main ${checkout}`,
      "baton/blob.bin": Buffer.concat([Buffer.from(`${checkout}\n`), Buffer.from([0, 1, 2])]),
      "baton/ok.txt": "fine\n",
    });
    symlinkSync("/work/main/node_modules/.pnpm/x", join(dir, "baton", "absolute-link"));
    symlinkSync("../../elsewhere", join(dir, "baton", "escaping-link"));
    symlinkSync("ok.txt", join(dir, "baton", "inner-link"));
    // inside node_modules the bytes are not read, but a link out of the folder still breaks a copy
    symlinkSync("../x", join(dir, "baton", "runtime", "node_modules", "x-alias"));
    symlinkSync("/root/.local/share/pnpm/store/y", join(dir, "baton", "runtime", "node_modules", "y"));
    expect(portabilityProblems(dir)).toEqual([
      "baton/absolute-link:0: symlink to the absolute path /work/main/node_modules/.pnpm/x",
      "baton/escaping-link:0: symlink ../../elsewhere leaves the folder",
      "baton/runtime/node_modules/y:0: symlink to the absolute path /root/.local/share/pnpm/store/y",
    ]);
  });
});
