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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baton_core.step import CANCEL_WATCHER, StepResult, run_step, step_command
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
    asset({ key: "waits", timeoutSeconds: 0.5, compute: () => new Promise(() => { setInterval(() => console.log("still running"), 50); }) }),
    asset({ key: "leaves_timer", compute: () => { setInterval(() => undefined, 1000); return frame(); } }),
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


def worker_pid(project: Project) -> int:
    """The pid of the worker a fresh `reports` step runs in."""
    result, lines = run_collect(project, "reports")
    assert result.exit_code == 0, result.stderr
    return pid_line(result, lines)[1]


def test_two_concurrent_steps_take_two_slots_and_both_succeed(project: Project) -> None:
    marker = project.dir / "marker"
    first = start_step_process(
        project.argv("sleeper"), project.env(), project.dir, secrets=[TOKEN]
    )
    wait_for(marker.exists, "the first sleeper to start")
    first_pid = int(marker.read_text())
    marker.unlink()
    second = start_step_process(
        project.argv("sleeper"), project.env(), project.dir, secrets=[TOKEN]
    )
    wait_for(marker.exists, "the second sleeper to start")
    assert isinstance(first, WorkerProcess) and isinstance(second, WorkerProcess)
    assert int(marker.read_text()) != first_pid, (
        "the second step has a worker of its own"
    )
    assert len(project.sockets()) == 2
    (project.dir / "release").write_text("go")
    assert first.wait(timeout=DEADLINE_S) == 0, first.stderr.read()
    assert second.wait(timeout=DEADLINE_S) == 0, second.stderr.read()


def test_all_slots_busy_runs_the_step_as_its_own_process(project: Project) -> None:
    marker = project.dir / "marker"
    busy = start_step_process(
        project.argv("sleeper"),
        project.env(BATON_WORKER_POOL="1"),
        project.dir,
        secrets=[TOKEN],
    )
    assert isinstance(busy, WorkerProcess)
    wait_for(marker.exists, "the sleeper to hold the only slot")
    one_off = start_step_process(
        project.argv("fine"),
        project.env(BATON_WORKER_POOL="1"),
        project.dir,
        secrets=[TOKEN],
    )
    assert isinstance(one_off, subprocess.Popen), "never queued behind the busy worker"
    assert one_off.wait(timeout=DEADLINE_S) == 0
    (project.dir / "release").write_text("go")
    assert busy.wait(timeout=DEADLINE_S) == 0


def test_a_changed_manifest_gets_a_new_worker(project: Project) -> None:
    before = worker_pid(project)
    # A build in its own file, then rebuilt in place under the running worker.
    data = json.loads(project.manifest.read_text())
    copy = project.dir / "manifest-rebuilt.json"
    copy.write_text(json.dumps(data))
    other = Project(
        dir=project.dir, manifest=copy, storage=project.storage, workers=project.workers
    )
    first_build = worker_pid(other)
    assert first_build != before
    assert worker_pid(other) == first_build, "the same build reuses its worker"
    data["runtime"]["builtBy"] = "a new build"
    copy.write_text(json.dumps(data))
    assert worker_pid(other) not in (before, first_build), (
        "the new bytes get a new worker"
    )
    assert worker_pid(project) == before, (
        "the old build's worker still serves the old build"
    )
    copy.unlink()


def test_idle_shutdown_removes_the_socket(project: Project) -> None:
    result, lines = run_collect(project, "reports", BATON_WORKER_IDLE_SECONDS="1")
    assert result.exit_code == 0, result.stderr
    pid = pid_line(result, lines)[1]
    wait_for(
        lambda: project.sockets() == [] and not alive(pid), "the idle worker to exit"
    )
    assert (
        "idle for 1 s: exiting"
        in (project.workers.glob("*.log").__next__()).read_text()
    )


def test_a_worker_above_max_rss_is_recycled_after_its_step(project: Project) -> None:
    result, _ = run_collect(project, "big", BATON_WORKER_MAX_RSS_MB="64")
    assert result.exit_code == 0, result.stderr
    assert result.verdict(["big"]).ok
    wait_for(
        lambda: project.sockets() == [], "the recycled worker to remove its socket"
    )
    log = next(project.workers.glob("*.log")).read_text()
    assert "is above --max-rss-mb 64 after a step: exiting" in log
    # Below the limit a worker stays.
    first = worker_pid(project)
    assert worker_pid(project) == first


def test_cancel_exits_143_fails_the_asset_cancelled_and_the_worker_exits(
    project: Project,
) -> None:
    marker = project.dir / "marker"
    cancel = threading.Event()
    events: list[dict[str, Any]] = []
    outcome: list[StepResult] = []

    def run() -> None:
        outcome.append(
            run_step(
                project.argv("sleeper"),
                project.env(),
                on_event=events.append,
                cwd=project.dir,
                cancel=cancel,
            )
        )

    thread = threading.Thread(target=run)
    thread.start()
    # The marker is created, then written: wait for its pid, not just the file.
    wait_for(
        lambda: marker.exists() and marker.read_text().strip() != "",
        "the sleeper to write its pid",
    )
    pid = int(marker.read_text())
    cancel.set()
    thread.join(timeout=DEADLINE_S)
    [result] = outcome
    assert result.exit_code == 143
    assert result.cancelled and not result.verdict(["sleeper"]).retryable
    failure = result.of_type("asset_failure")[0]
    assert (
        failure["asset"] == "sleeper"
        and "cancelled (SIGTERM)" in failure["error"]["message"]
    )
    wait_for(lambda: not alive(pid), "the cancelled step's worker to exit")
    committed = [f for f in (project.storage / "sleeper").rglob("*") if f.is_file()]
    assert committed == []


def test_a_cancel_after_the_step_is_over_stops_nothing(project: Project) -> None:
    # run_step does not wait for its cancel watcher: a cancel set once it returned must
    # neither mark that step cancelled nor stop the worker that served it.
    cancel = threading.Event()
    result = run_step(
        project.argv("reports"), project.env(), cwd=project.dir, cancel=cancel
    )
    assert result.exit_code == 0, result.stderr
    pid = worker_pid(project)
    cancel.set()
    # The watcher sees the step is over and ends without stopping anything.
    wait_for(
        lambda: not any(t.name == CANCEL_WATCHER for t in threading.enumerate()),
        "run_step's cancel watcher to end",
    )
    assert not result.cancelled and result.verdict(["reports"]).ok
    assert alive(pid), "the worker that served the step is still running"
    again = run_step(project.argv("reports"), project.env(), cwd=project.dir)
    assert again.exit_code == 0 and again.verdict(["reports"]).ok


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        ("exits", "process.exit(0) was called while the step was open"),
        ("never_settles", "a compute whose promise never settles?"),
        ("crashes", "the Node step crashed (boom in a timer)"),
    ],
)
def test_the_guard_holds_in_a_worker_and_the_worker_exits(
    project: Project, asset: str, message: str
) -> None:
    before = worker_pid(project)
    result = project.run(asset)
    assert result.exit_code == 1, result.stderr
    verdict = result.verdict([asset])
    assert not verdict.ok and verdict.retryable
    assert message in verdict.message
    assert result.step_end is not None and result.step_end["status"] == "failure"
    # The worker reported the code before it exited: this is not a worker dying mid-step.
    assert not any("died mid-step" in line for line in result.stderr), result.stderr
    wait_for(lambda: not alive(before), f"the worker to exit after {asset}")
    assert worker_pid(project) != before, "the next step starts a fresh worker"


def test_a_timeout_reports_what_a_one_off_process_does(project: Project) -> None:
    warm = worker_pid(project)
    result = project.run("spins")
    # A one-off baton-step is SIGKILLed by its watchdog: Popen's returncode -9.
    assert result.exit_code == -signal.SIGKILL
    verdict = result.verdict(["spins"])
    assert not verdict.ok and verdict.retryable
    assert (
        'asset "spins": timed out after 0.5 s (timeoutSeconds: 0.5); its compute blocked the event loop'
        in verdict.message
    )
    assert any(
        "its compute blocked the event loop, so the process was stopped" in line
        for line in result.stderr
    )
    wait_for(lambda: not alive(warm), "the watchdog to kill the worker")
    assert worker_pid(project) != warm


def test_a_timed_out_compute_that_keeps_running_does_not_reach_the_next_step(
    project: Project,
) -> None:
    warm = worker_pid(project)
    result = project.run("waits")
    assert result.exit_code == 1
    assert (
        "timed out after 0.5 s (timeoutSeconds: 0.5)"
        in result.verdict(["waits"]).message
    )
    # Its interval still prints in that worker: the worker retires instead of serving another step.
    wait_for(lambda: not alive(warm), "the worker of the timed-out step to exit")
    after, lines = run_collect(project, "reports")
    assert after.exit_code == 0, after.stderr
    assert pid_line(after, lines)[1] != warm
    assert "still running" not in lines


def test_kill_kills_the_worker_and_reports_minus_9(project: Project) -> None:
    marker = project.dir / "marker"
    proc = start_step_process(
        project.argv("sleeper"), project.env(), project.dir, secrets=[TOKEN]
    )
    assert isinstance(proc, WorkerProcess)
    wait_for(marker.exists, "the sleeper to start")
    proc.kill()
    assert proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
    assert "died mid-step" not in proc.stderr.read(), "a kill asked for is not a death"
    wait_for(lambda: not alive(proc.pid), "the killed worker to be gone")


def test_an_entry_without_the_worker_command_runs_one_off_and_is_remembered(
    project: Project,
) -> None:
    # A step entry from before the worker (an old build): it knows `run` only.
    entry = project.dir / "old-entry.mjs"
    entry.write_text(
        'if (process.argv[2] !== "run") { console.error("unknown command"); process.exit(3); }\n'
        'console.log("@@baton:event " + JSON.stringify({ type: "step_end", status: "success" }));\n'
    )
    argv = [NODE, str(entry), "run", "--manifest", str(project.manifest)]
    first = start_step_process(argv, project.env(), project.dir)
    assert isinstance(first, subprocess.Popen)
    first.communicate(timeout=DEADLINE_S)
    assert first.returncode == 0
    [marker] = project.workers.glob("*.nowork")
    assert "the worker exited with code 3 before it answered" in marker.read_text()
    assert "unknown command" in marker.read_text()
    second = start_step_process(argv, project.env(), project.dir)
    assert isinstance(second, subprocess.Popen)
    second.communicate(timeout=DEADLINE_S)
    assert second.returncode == 0
    assert project.sockets() == []
    entry.unlink()


def test_a_step_that_leaves_a_timer_running_retires_its_worker(
    project: Project,
) -> None:
    before = worker_pid(project)
    assert worker_pid(project) == before, "a step that leaves nothing keeps its worker"
    result = project.run("leaves_timer")
    assert result.exit_code == 0, result.stderr
    assert result.verdict(["leaves_timer"]).ok
    wait_for(lambda: not alive(before), "the worker to retire")
    assert (
        "the step left 1 timer running: exiting"
        in next(project.workers.glob("*.log")).read_text()
    )
    # The next step's never-settling promise is caught again: no leftover keeps its loop alive.
    stuck = project.run("never_settles")
    assert stuck.exit_code == 1
    assert (
        "a compute whose promise never settles?"
        in stuck.verdict(["never_settles"]).message
    )
