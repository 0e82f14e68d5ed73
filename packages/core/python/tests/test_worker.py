"""baton_core.worker against the real Node worker (core's built ``dist/step/bin.js worker``).

A small definitions module, built into a manifest by core itself, runs through ``run_step`` (which
starts every step through ``start_step_process``) with a private ``BATON_WORKER_DIR`` per test.
What is asserted is what an orchestrator records: exit codes, events, output lines, the store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from baton_core.step import StepResult, run_step, step_command
from baton_core.worker import WorkerProcess, start_step_process

CORE = Path(__file__).resolve().parents[2]
STEP_BIN = CORE / "dist" / "step" / "bin.js"
NODE = os.environ.get("BATON_NODE") or shutil.which("node") or "node"
TOKEN = "CANARY-worker-51c2e"
# Deadlines for a loaded 2-core machine, never pauses.
DEADLINE_S = 120.0

DEFS = """
import pl from "nodejs-polars";
import { existsSync, writeFileSync } from "node:fs";
import { asset, definitions, env, resource, secret } from "@baton/core";

globalThis.__batonImports = (globalThis.__batonImports ?? 0) + 1;
const imports = globalThis.__batonImports;
const frame = () => pl.DataFrame({ x: [1, 2] });
const vault = resource({ config: { token: secret("W_TOKEN") }, create: ({ token }) => ({ token }) });

export default definitions({
  resources: { vault },
  assets: [
    asset({ key: "fine", compute: frame }),
    asset({
      key: "reports",
      resources: ["vault"],
      compute: (_i, { resources }) => {
        console.log("imports=" + imports + " pid=" + process.pid);
        console.log("token=" + resources.vault.token);
        console.log("first=" + (process.env.W_FIRST ?? "unset") + " second=" + (process.env.W_SECOND ?? "unset"));
        console.log("cwd=" + process.cwd());
        process.stderr.write("to stderr\\n");
        return frame();
      },
    }),
    asset({
      key: "sleeper",
      compute: async () => {
        writeFileSync(process.env.W_MARKER, String(process.pid));
        while (!existsSync(process.env.W_RELEASE)) await new Promise((r) => setTimeout(r, 20));
        return frame();
      },
    }),
    asset({ key: "never_settles", compute: () => new Promise(() => {}) }),
    asset({ key: "exits", compute: () => process.exit(0) }),
    asset({ key: "crashes", compute: () => new Promise(() => setTimeout(() => { throw new Error("boom in a timer"); }, 10)) }),
    asset({ key: "spins", timeoutSeconds: 0.5, compute: () => { for (;;) {} } }),
    asset({ key: "big", compute: () => { globalThis.__ballast = Buffer.alloc(64 * 1024 * 1024, 1); return frame(); } }),
  ],
});
"""

BUILD = """
import { writeFileSync } from "node:fs";
import { join } from "node:path";
const core = process.argv[2], dir = process.argv[3];
const { loadDefinitions } = await import(join(core, "dist/load.js"));
const { toManifest, manifestToJson } = await import(join(core, "dist/manifest/build.js"));
const defs = await loadDefinitions(join(dir, "defs.mjs"));
const manifest = toManifest(defs, { module: join(dir, "defs.mjs"), manifestDir: dir, stepEntry: join(core, "dist/step/bin.js") });
writeFileSync(join(dir, "manifest.json"), manifestToJson(manifest));
"""


@dataclass
class Project:
    dir: Path
    manifest: Path
    storage: Path
    workers: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BATON_", "W_")) or k == "BATON_NODE"
        }
        env.update(
            BATON_STORAGE=str(self.storage),
            BATON_WORKER_DIR=str(self.workers),
            W_TOKEN=TOKEN,
            W_MARKER=str(self.dir / "marker"),
            W_RELEASE=str(self.dir / "release"),
        )
        env.update(extra)
        return env

    def argv(self, *assets: str, run_id: str = "r-worker") -> list[str]:
        args = [a for asset in assets for a in ("--asset", asset)]
        return step_command(STEP_BIN, self.manifest, "run", [*args, "--run-id", run_id])

    def run(self, *assets: str, **env: str) -> StepResult:
        return run_step(
            self.argv(*assets), self.env(**env), cwd=self.dir, secrets=[TOKEN]
        )

    def sockets(self) -> list[Path]:
        return sorted(self.workers.glob("*.sock"))


def wait_for(
    condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S
) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A worker this test process started stays a zombie until reaped: count that as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stdout_of(result: StepResult, lines: list[str], prefix: str) -> str:
    found = [line for line in lines if line.startswith(prefix)]
    assert found, f"no line {prefix!r} in {lines!r}; stderr {result.stderr!r}"
    return found[-1][len(prefix) :]


def run_collect(
    project: Project, *assets: str, **env: str
) -> tuple[StepResult, list[str]]:
    lines: list[str] = []
    result = run_step(
        project.argv(*assets),
        project.env(**env),
        on_line=lambda stream, text: lines.append(text) if stream == "stdout" else None,
        cwd=project.dir,
        secrets=[TOKEN],
    )
    return result, lines


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert STEP_BIN.exists(), (
        f"{STEP_BIN} is missing: run pnpm --filter @baton/core build first"
    )
    root = tmp_path_factory.mktemp("worker-project")
    (root / "node_modules" / "@baton").mkdir(parents=True)
    (root / "node_modules" / "@baton" / "core").symlink_to(CORE)
    (root / "node_modules" / "nodejs-polars").symlink_to(
        CORE / "node_modules" / "nodejs-polars"
    )
    (root / "package.json").write_text(
        json.dumps({"name": "worker-fixture", "private": True, "type": "module"})
    )
    (root / "defs.mjs").write_text(DEFS)
    (root / "build.mjs").write_text(BUILD)
    subprocess.run(
        [NODE, str(root / "build.mjs"), str(CORE), str(root)],
        check=True,
        timeout=DEADLINE_S,
    )
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Iterator[Project]:
    workers = tmp_path / "w"
    p = Project(
        dir=built,
        manifest=built / "manifest.json",
        storage=tmp_path / "storage",
        workers=workers,
    )
    for marker in ("marker", "release"):
        (built / marker).unlink(missing_ok=True)
    yield p
    # Stop what this test started: every worker of its folder (their pids from the logs' hello).
    for sock in p.sockets():
        with_pid = _pid_of(sock)
        if with_pid is not None and alive(with_pid):
            os.kill(with_pid, signal.SIGKILL)


def _pid_of(sock: Path) -> int | None:
    import socket as socketlib

    s = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(str(sock))
        line = s.makefile("rb").readline()
        pid = json.loads(line)["hello"]["pid"]
        return int(pid)
    except (OSError, ValueError, KeyError):
        return None
    finally:
        s.close()


def pid_line(result: StepResult, lines: list[str]) -> tuple[int, int]:
    """(imports, pid) the `reports` asset printed."""
    text = stdout_of(result, lines, "imports=")
    imports, pid = text.split(" pid=")
    return int(imports), int(pid)


def test_a_warm_step_reuses_the_worker_and_imports_once(project: Project) -> None:
    first, lines1 = run_collect(project, "reports")
    assert first.exit_code == 0, first.stderr
    second, lines2 = run_collect(project, "reports")
    assert second.exit_code == 0, second.stderr
    assert second.verdict(["reports"]).ok
    imports1, pid1 = pid_line(first, lines1)
    imports2, pid2 = pid_line(second, lines2)
    assert pid1 == pid2, "the second step ran in the same worker"
    assert (imports1, imports2) == (1, 1), "the definitions were imported once"
    assert any(e["type"] == "materialization" for e in second.events)
    assert "to stderr" in second.stderr
    assert stdout_of(second, lines2, "cwd=") == str(project.dir)


def test_env_and_secrets_do_not_cross_steps(project: Project) -> None:
    first, lines1 = run_collect(project, "reports", W_FIRST="one")
    assert first.exit_code == 0, first.stderr
    assert stdout_of(first, lines1, "first=") == "one second=unset"
    second, lines2 = run_collect(project, "reports", W_SECOND="two")
    assert second.exit_code == 0, second.stderr
    # Wholesale replacement: the first step's variable is gone in the second.
    assert stdout_of(second, lines2, "first=") == "unset second=two"
    assert pid_line(first, lines1)[1] == pid_line(second, lines2)[1]
    # The secret is redacted in what the user printed, in both steps.
    for lines in (lines1, lines2):
        assert stdout_of(first, lines, "token=") == "***"
        assert not any(TOKEN in line for line in lines)


def test_other_secrets_get_another_worker(project: Project) -> None:
    first, lines1 = run_collect(project, "reports")
    second, lines2 = run_collect(project, "reports", W_TOKEN="CANARY-other-9d1")
    assert first.exit_code == 0 and second.exit_code == 0, (first.stderr, second.stderr)
    assert pid_line(first, lines1)[1] != pid_line(second, lines2)[1]


def test_off_runs_a_plain_process(project: Project) -> None:
    proc = start_step_process(
        project.argv("fine"), project.env(BATON_WORKER="off"), project.dir
    )
    assert isinstance(proc, subprocess.Popen)
    assert proc.wait(timeout=DEADLINE_S) == 0
    assert project.sockets() == []


def test_kill_9_mid_step_fails_retryable_commits_nothing_and_the_retry_succeeds(
    project: Project,
) -> None:
    warm, _ = run_collect(project, "fine")
    assert warm.exit_code == 0, warm.stderr
    marker = project.dir / "marker"
    proc = start_step_process(
        project.argv("sleeper"), project.env(), project.dir, secrets=[TOKEN]
    )
    assert isinstance(proc, WorkerProcess)
    wait_for(marker.exists, "the sleeper to start")
    os.kill(int(marker.read_text()), signal.SIGKILL)
    assert proc.wait(timeout=DEADLINE_S) == 1
    err = proc.stderr.read()
    assert (
        f"baton worker pid {proc.pid} died mid-step (killed, or out of memory?); the retry starts a fresh worker"
        in err
    )
    committed = [f for f in (project.storage / "sleeper").rglob("*") if f.is_file()]
    assert committed == [], "nothing of the killed step was committed"
    (project.dir / "release").write_text("go")
    retry, _ = run_collect(project, "sleeper")
    assert retry.exit_code == 0, retry.stderr
    assert retry.verdict(["sleeper"]).ok
    assert (project.storage / "sleeper" / "__unpartitioned__" / "record.json").exists()
