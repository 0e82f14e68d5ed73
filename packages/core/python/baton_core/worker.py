"""The warm step worker's client (core's WORKER-CONTRACT.md): one Node step without a Node start.

``start_step_process(argv, env, cwd, secrets=...)`` runs ``argv`` (``step_command(...)``:
``[node, stepEntry, command, ...]``) in a long-lived ``node <stepEntry> worker`` reached over a
Unix socket, started on demand, and returns a handle with the surface of ``subprocess.Popen``
(``WorkerProcess``). With ``BATON_WORKER=off``, or when every slot of the key is busy, it returns a
plain ``subprocess.Popen`` of ``argv``: one process per step, as before.

A worker serves one key (the node binary, the step entry's real path, the manifest's bytes, the
values of every secret the step sees), so a new build or other secrets get another worker. Up to
``BATON_WORKER_POOL`` (4) workers per key, each one step at a time: a step holds ``<slot>.lock``
(``fcntl.flock``) for its whole run. Workers live in ``BATON_WORKER_DIR`` (default
``${XDG_RUNTIME_DIR or tempdir}/baton-workers-<uid>``, mode 0700), exit after
``BATON_WORKER_IDLE_SECONDS`` (300) idle, and after a step that left their RSS above
``BATON_WORKER_MAX_RSS_MB`` (2048). At most ``BATON_WORKER_MAX`` (16) workers run in the folder:
starting another stops the least recently used idle ones of other keys first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO, Union

logger = logging.getLogger("baton_core.worker")

_OFF = frozenset({"off", "0", "false", "no"})
# The commands a worker serves (core's step/main.ts and the adapters' step entries).
_SERVED = frozenset({"run", "check", "sensor", "schedule"})
# Unix socket paths are limited to 108 bytes on Linux (104 on macOS).
_MAX_SOCKET_PATH = 100
DIED_MID_STEP = (
    "baton worker pid {pid} died mid-step (killed, or out of memory?); "
    "the retry starts a fresh worker"
)
_DIED_PREFIX = re.compile(r"baton worker pid \d+ died mid-step")


def died_mid_step(stderr: Iterable[str]) -> str | None:
    """The line a `WorkerProcess` wrote when its worker died during the step (DIED_MID_STEP), if any."""
    return next(
        (line.strip() for line in reversed(list(stderr)) if _DIED_PREFIX.match(line)),
        None,
    )


def _setting(env: Mapping[str, str], name: str, default: str) -> str:
    """A worker setting: the step's environment first, then this process's."""
    value = env.get(name)
    if value is None or value == "":
        value = os.environ.get(name, default)
    return value or default


def _int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return max(1, int(float(_setting(env, name, str(default)))))
    except ValueError:
        return default


def worker_enabled(env: Mapping[str, str]) -> bool:
    """False when ``BATON_WORKER`` is off, 0, false or no: every step is its own process."""
    return _setting(env, "BATON_WORKER", "on").strip().lower() not in _OFF


def worker_dir(env: Mapping[str, str]) -> Path:
    """``BATON_WORKER_DIR``, else ``${XDG_RUNTIME_DIR or tempdir}/baton-workers-<uid>``."""
    explicit = _setting(env, "BATON_WORKER_DIR", "")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"baton-workers-{os.getuid()}"


def _manifest_arg(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--manifest" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--manifest="):
            return arg.split("=", 1)[1]
    return None


def _storage_secrets(env: Mapping[str, str]) -> list[str]:
    """The store's credentials, as core's io/open.ts storageSecrets names them."""
    key_id = env.get("AWS_ACCESS_KEY_ID", "")
    values = [
        env.get("AWS_SECRET_ACCESS_KEY", ""),
        env.get("AWS_SESSION_TOKEN", ""),
        key_id if len(key_id) >= 8 else "",
    ]
    return [v for v in values if v]


def _secret_envs(manifest: Any) -> list[str]:
    """The env names of every secret config field of the manifest's resources."""
    names: list[str] = []
    resources = manifest.get("resources", []) if isinstance(manifest, dict) else []
    for resource in resources if isinstance(resources, list) else []:
        for config in resource.get("config", []) if isinstance(resource, dict) else []:
            if isinstance(config, dict) and config.get("secret") and config.get("env"):
                names.append(str(config["env"]))
    return names


# (path, device, inode, mtime, size) -> (sha256 of the manifest's bytes, its secret env names).
_facts: dict[str, tuple[str, list[str]]] = {}


def _manifest_facts(path: Path, cache_dir: Path | None) -> tuple[str, list[str]] | None:
    """The manifest's digest and secret env names, known once per file version.

    A large project's manifest is megabytes (parsing 20,000 assets' JSON takes longer than a warm
    step), so both are kept in this process and in ``cache_dir`` by the file's (path, device,
    inode, mtime, size) — the same signature core's worker uses before it re-reads a manifest.
    None when it cannot be read (the one-off process reports that, as before).
    """
    try:
        st = path.stat()
    except OSError:
        return None
    signature = f"{os.path.realpath(path)}\0{st.st_dev}\0{st.st_ino}\0{st.st_mtime_ns}\0{st.st_size}"
    known = _facts.get(signature)
    if known is not None:
        return known
    cache = None
    if cache_dir is not None:
        cache = (
            cache_dir / f"m-{hashlib.sha256(signature.encode()).hexdigest()[:24]}.json"
        )
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(cache.read_text(encoding="utf-8"))
            known = (str(data["digest"]), [str(n) for n in data["secretEnvs"]])
    if known is None:
        try:
            raw = path.read_bytes()
            known = (hashlib.sha256(raw).hexdigest(), _secret_envs(json.loads(raw)))
        except (OSError, ValueError):
            return None
        if cache is not None:
            tmp = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}")
            with contextlib.suppress(OSError):
                tmp.write_text(
                    json.dumps({"digest": known[0], "secretEnvs": known[1]}),
                    encoding="utf-8",
                )
                os.replace(tmp, cache)
    _facts[signature] = known
    return known


def worker_key(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    secrets: Iterable[str] = (),
    cache_dir: Path | None = None,
) -> tuple[str, list[str]] | None:
    """The worker key of a step, and every secret it sees; None when it cannot be served warm.

    sha256 of the node binary, the step entry's real path, the manifest's bytes (by their
    sha256), NODE_OPTIONS and the secret values (the manifest resources' secret env values, the
    storage credentials and ``secrets``): a new build or other secrets never share a worker.
    """
    if len(argv) < 3 or argv[2] not in _SERVED:
        return None
    manifest_arg = _manifest_arg(argv[3:])
    if manifest_arg is None:
        return None
    facts = _manifest_facts(cwd / manifest_arg, cache_dir)
    if facts is None:
        return None
    manifest_digest, secret_envs = facts
    every = sorted(
        {
            *(s for s in secrets if s),
            *(env.get(name, "") for name in secret_envs),
            *_storage_secrets(env),
        }
        - {""}
    )
    digest = hashlib.sha256()
    for part in (
        argv[0].encode(),
        os.path.realpath(cwd / argv[1]).encode(),
        manifest_digest.encode(),
        env.get("NODE_OPTIONS", "").encode(),
        *(s.encode() for s in every),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest(), every


class WorkerProcess:
    """One step running in a warm worker, with the surface of ``subprocess.Popen[str]``.

    ``stdout`` / ``stderr`` are real text streams (pipes a demux thread feeds from the worker's
    frames). ``send_signal(SIGTERM | SIGINT)`` cancels the step (the worker then exits);
    ``kill()`` kills the worker, since a step cannot be killed alone. A worker that dies mid-step
    ends the step with returncode 1 and a stderr line naming its pid. ``warm`` is False when the
    worker was started for this step (an orchestrator's log can say which).
    """

    stdin: None = None

    def __init__(
        self,
        sock: socket.socket,
        reader: BinaryIO,
        pid: int,
        lock_fd: int,
        args: Sequence[str],
        warm: bool = True,
    ) -> None:
        self.args = list(args)
        self.pid = pid
        self.warm = warm
        self.returncode: int | None = None
        self._sock = sock
        self._reader = reader
        self._lock_fd = lock_fd
        self._send_lock = threading.Lock()
        self._done = threading.Event()
        self._killed = False
        out_r, self._out_w = os.pipe()
        err_r, self._err_w = os.pipe()
        self.stdout: TextIO = open(  # noqa: SIM115 - the caller reads it to EOF, as a Popen's
            out_r, encoding="utf-8", errors="replace", newline=None
        )
        self.stderr: TextIO = open(  # noqa: SIM115
            err_r, encoding="utf-8", errors="replace", newline=None
        )
        self._thread = threading.Thread(
            target=self._demux, name=f"baton-worker-{pid}", daemon=True
        )
        self._thread.start()

    def _demux(self) -> None:
        code: int | None = None
        out_w: int | None = self._out_w
        err_w: int | None = self._err_w

        def write(fd: int | None, text: str) -> int | None:
            if fd is None:
                return None
            data = text.encode("utf-8")
            try:
                while data:
                    data = data[os.write(fd, data) :]
            except OSError:  # the reader closed its end: drop the rest of this stream
                with contextlib.suppress(OSError):
                    os.close(fd)
                return None
            return fd

        try:
            for raw in self._reader:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(frame, dict):
                    continue
                if "o" in frame:
                    out_w = write(out_w, str(frame["o"]))
                elif "e" in frame:
                    err_w = write(err_w, str(frame["e"]))
                elif "exit" in frame:
                    code = int(frame["exit"])
                    break
        except (OSError, ValueError):
            pass  # the connection broke: the same as an end without an exit frame
        finally:
            if code is None:
                if self._killed:
                    code = -signal.SIGKILL
                else:
                    code = 1
                    err_w = write(err_w, DIED_MID_STEP.format(pid=self.pid) + "\n")
            for fd in (out_w, err_w):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            with contextlib.suppress(OSError):
                self._reader.close()
            with contextlib.suppress(OSError):
                self._sock.close()
            # The slot is free once the step's code is known (the worker reports it last).
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self.returncode = code
            self._done.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """SIGTERM / SIGINT cancel the step (a cancel frame); SIGKILL kills the worker."""
        if self._done.is_set():
            return
        if sig == signal.SIGKILL:
            self.kill()
            return
        name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
        with self._send_lock, contextlib.suppress(OSError):
            self._sock.sendall((json.dumps({"signal": name}) + "\n").encode())

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kills the worker (a step cannot be killed alone); returncode becomes -9."""
        if self._done.is_set():
            return
        self._killed = True
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)


StepProcess = Union["subprocess.Popen[str]", WorkerProcess]

# Workers this process started: polled so that an exited one does not stay a zombie.
_spawned: list[subprocess.Popen[bytes]] = []
_spawned_lock = threading.Lock()


def _reap() -> None:
    with _spawned_lock:
        _spawned[:] = [p for p in _spawned if p.poll() is None]


def _popen(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | Path | None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        # No preexec_fn: it runs Python in the forked child, unsafe in a threaded launcher
        # (Dagster's code server, Prefect's task threads). Node watches its parent instead.
    )


def _private_dir(path: Path) -> bool:
    """Create ``path`` mode 0700; False if it exists but is not this user's alone."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    st = path.lstat()
    if not path.is_dir() or path.is_symlink() or st.st_uid != os.getuid():
        return False
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return True


def _take_slot(directory: Path, key: str, pool: int) -> tuple[int, int] | None:
    """(slot, the fd holding its lock) of the first free slot, or None when all are busy."""
    for slot in range(pool):
        fd = os.open(directory / f"{key}.{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        # The lock's mtime is the slot's last use: the least recently used idle workers go first.
        with contextlib.suppress(OSError):
            os.utime(fd)
        return slot, fd
    return None


def _evict_idle(directory: Path, keep: str, limit: int) -> None:
    """Stop the least recently used idle workers of other keys while ``limit`` or more run.

    Bounds the memory of a host that ran many builds (or tests) within the idle timeout. A worker
    is idle when its slot's lock is free; the lock is held until its socket is gone, so no step
    reaches a worker on its way out.
    """
    sockets = sorted(directory.glob("*.sock"))
    excess = len(sockets) - limit + 1
    if excess <= 0:
        return
    candidates: list[tuple[float, Path, Path]] = []
    for sock in sockets:
        slot_name = sock.name[: -len(".sock")]
        if slot_name.startswith(keep + "."):
            continue
        lock = directory / f"{slot_name}.lock"
        try:
            used = lock.stat().st_mtime
        except OSError:
            used = 0.0
        candidates.append((used, sock, lock))
    for _used, sock, lock in sorted(candidates):
        if excess <= 0:
            return
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # running a step
            connected = _connect(sock, 5.0)  # a stale socket is removed
            if connected is not None:
                conn, reader, pid = connected
                reader.close()
                conn.close()
                with contextlib.suppress(OSError):
                    os.kill(
                        pid, signal.SIGTERM
                    )  # between steps: it removes its socket, exits
                deadline = time.monotonic() + 10.0
                while sock.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            excess -= 1
        finally:
            os.close(fd)


def _hello(sock: socket.socket, timeout: float) -> tuple[BinaryIO, int] | None:
    """The worker's hello frame (its pid); None when the connection ends first."""
    sock.settimeout(timeout)
    reader = sock.makefile("rb")
    try:
        line = reader.readline()
    except OSError:
        line = b""
    sock.settimeout(None)
    try:
        frame = json.loads(line) if line else None
    except ValueError:
        frame = None
    hello = frame.get("hello") if isinstance(frame, dict) else None
    if not isinstance(hello, dict) or not isinstance(hello.get("pid"), int):
        reader.close()
        return None
    return reader, int(hello["pid"])


def _connect(
    path: Path, timeout: float, remove_stale: bool = True
) -> tuple[socket.socket, BinaryIO, int] | None:
    """A connection to a running worker, or None (no socket, a stale one — removed — or gone)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        # Nobody answers: a worker that died (SIGKILL, OOM) left it. We hold the slot's lock.
        if remove_stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return None
    except OSError:
        sock.close()
        return None
    hello = _hello(sock, timeout)
    if hello is None:  # a worker shutting down (idle, recycled) as we connected
        sock.close()
        return None
    return sock, *hello


def _start_worker(
    argv: Sequence[str],
    env: Mapping[str, str],
    directory: Path,
    name: str,
    cwd: Path,
) -> tuple[socket.socket, BinaryIO, int] | str:
    """Start a worker for this slot and wait until it answers; a message when it does not."""
    sock_path = directory / f"{name}.sock"
    log_path = directory / f"{name}.log"
    entry = os.path.realpath(cwd / argv[1])
    command = [
        argv[0],
        entry,
        "worker",
        "--socket",
        str(sock_path),
        "--idle-seconds",
        str(_int_setting(env, "BATON_WORKER_IDLE_SECONDS", 300)),
        "--max-rss-mb",
        str(_int_setting(env, "BATON_WORKER_MAX_RSS_MB", 2048)),
    ]
    _evict_idle(
        directory, name.rsplit(".", 1)[0], _int_setting(env, "BATON_WORKER_MAX", 16)
    )
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # Its own session: the worker outlives this process and its process group (a task
        # runner killing its group must not kill a worker another step uses). No preexec_fn.
        proc = subprocess.Popen(
            command,
            env=dict(env),
            cwd=str(directory),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
        )
    finally:
        os.close(log_fd)
    with _spawned_lock:
        _spawned.append(proc)
    start_seconds = _int_setting(env, "BATON_WORKER_START_SECONDS", 60)
    deadline = time.monotonic() + start_seconds
    while True:
        if sock_path.exists():
            # Not removed when refused: the worker may be between bind and listen.
            connected = _connect(sock_path, 30.0, remove_stale=False)
            if connected is not None:
                return connected
        code = proc.poll()
        if code is not None:
            return f"the worker exited with code {code} before it answered on {sock_path} (log: {log_path}){_tail(log_path)}"
        if time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                proc.kill()
            return (
                f"the worker did not answer on {sock_path} within {start_seconds} s "
                f"(BATON_WORKER_START_SECONDS; log: {log_path}){_tail(log_path)}"
            )
        time.sleep(0.005)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return (": " + " | ".join(lines[-3:])) if lines else ""


def start_step_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | Path | None = None,
    *,
    secrets: Iterable[str] = (),
) -> StepProcess:
    """Start the step ``argv`` (``[node, stepEntry, command, ...]``) in environment ``env``.

    In a warm worker of its key when one is free (starting it if needed), else as its own
    process (``BATON_WORKER=off``, every slot busy, a step entry without the ``worker`` command).
    Raises OSError like ``subprocess.Popen`` when Node cannot be started.
    """
    _reap()
    if not worker_enabled(env):
        return _popen(argv, env, cwd)
    base = Path(cwd) if cwd is not None else Path.cwd()
    if len(argv) < 3 or argv[2] not in _SERVED:
        return _popen(argv, env, cwd)
    directory = worker_dir(env)
    try:
        if not _private_dir(directory):
            logger.warning(
                "baton worker: %s is not this user's alone; steps run one-off",
                directory,
            )
            return _popen(argv, env, cwd)
    except OSError as e:
        logger.warning(
            "baton worker: cannot use %s (%s); steps run one-off", directory, e
        )
        return _popen(argv, env, cwd)
    keyed = worker_key(argv, env, base, secrets, cache_dir=directory)
    if keyed is None:
        return _popen(argv, env, cwd)
    key, every_secret = keyed
    name = key[:24]
    if (directory / f"{name}.nowork").exists():
        return _popen(argv, env, cwd)
    taken = _take_slot(directory, name, _int_setting(env, "BATON_WORKER_POOL", 4))
    if taken is None:
        return _popen(argv, env, cwd)  # every slot busy: never queue
    slot, lock_fd = taken
    try:
        started = _serve_in_slot(
            argv, env, base, directory, f"{name}.{slot}", lock_fd, every_secret
        )
    except BaseException:
        os.close(lock_fd)
        raise
    if isinstance(started, str):
        os.close(lock_fd)
        # A step entry without `worker` (an older build) exits at once: remember it for this key.
        if started.startswith("the worker exited"):
            with contextlib.suppress(OSError):
                (directory / f"{name}.nowork").write_text(
                    started + "\n", encoding="utf-8"
                )
        logger.warning("baton worker: %s; the step runs as its own process", started)
        return _popen(argv, env, cwd)
    return started


def _serve_in_slot(
    argv: Sequence[str],
    env: Mapping[str, str],
    base: Path,
    directory: Path,
    slot_name: str,
    lock_fd: int,
    secrets: list[str],
) -> WorkerProcess | str:
    """The step sent to this slot's worker (started if needed), or why it cannot be."""
    sock_path = directory / f"{slot_name}.sock"
    if len(os.fsencode(sock_path)) > _MAX_SOCKET_PATH:
        return f"the socket path {sock_path} is too long (set BATON_WORKER_DIR to a shorter folder)"
    connected = _connect(sock_path, 30.0)
    warm = connected is not None
    if connected is None:
        started = _start_worker(argv, env, directory, slot_name, base)
        if isinstance(started, str):
            return started
        connected = started
    sock, reader, pid = connected
    request = {
        "argv": list(argv[2:]),
        "env": dict(env),
        "cwd": str(base.resolve()),
        "secrets": secrets,
    }
    with contextlib.suppress(
        OSError
    ):  # if it fails, the demux sees the end: the worker is gone
        sock.sendall((json.dumps(request) + "\n").encode())
    return WorkerProcess(sock, reader, pid, lock_fd, argv, warm=warm)
