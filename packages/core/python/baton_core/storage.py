"""Read Baton outputs from Python: the record first, then the one data file it names.

The layout and rules are core's (packages/core/STORAGE-CONTRACT.md), so a native Dagster asset,
Airflow task or Prefect task downstream of a Baton asset reads exactly what the Node step
committed, from a local folder or from S3:

    <root>/<encode_segment(part)>/.../<encode_segment(partition) | __unpartitioned__>/record.json
    <root>/.../<partition>/<record["file"]>

``record.json`` is the commit point. A reader never globs for data files: it reads the record,
then the file the record names, and re-reads the record once if that file is gone (a newer
commit replaced it). polars (``baton-core[read]``) and s3fs (``baton-core[s3]``) are optional and
imported only when a read needs them, so the orchestrator launchers stay stdlib-only.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict, cast
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    import polars

__all__ = [
    "UNPARTITIONED",
    "ColumnSchema",
    "MissingOutputError",
    "OutputRecord",
    "RecordMismatchError",
    "StorageError",
    "StorageUrlError",
    "encode_segment",
    "read_output",
    "read_outputs",
    "read_record",
    "s3_options",
]

UNPARTITIONED = "__unpartitioned__"
SUPPORTED_FORMS = (
    "a local folder path, file:///absolute/path, s3://bucket or s3://bucket/prefix"
)
# Characters encodeURIComponent leaves alone besides letters and digits (quote keeps "_.-~").
_URI_COMPONENT_SAFE = "!'()*"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class ColumnSchema(TypedDict):
    name: str
    type: str


class RecordTable(TypedDict):
    """The table and snapshot an ``iceberg`` output's record pins (TABLE-OUTPUT-CONTRACT.md)."""

    format: Literal["iceberg"]
    catalog: str
    name: str
    snapshotId: str
    partitionColumn: str | None
    location: str | None


class OutputRecord(TypedDict):
    """``record.json`` as core writes it (``OutputRecord`` in packages/core/src/io/store.ts)."""

    assetKey: str
    partitionKey: str | None
    format: Literal["parquet", "ipc", "iceberg", "none"]
    file: str | None
    rowCount: int | None
    schema: list[ColumnSchema]
    contentHash: str | None
    producedAs: Literal["polars", "arrow", "none"]
    codeVersion: str | None
    runId: str
    table: NotRequired[RecordTable]


class StorageError(Exception):
    """A Baton output cannot be read; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\n  fix: {hint}")
        self.hint = hint


class StorageUrlError(StorageError, ValueError):
    """``BATON_STORAGE`` (or ``storage=``) is unset or not a form Baton supports."""


class MissingOutputError(StorageError):
    """The asset (or partition) has no committed output, or its data file is gone."""


class RecordMismatchError(StorageError):
    """The record in an output's folder belongs to another asset or partition."""


def encode_segment(part: str) -> str:
    """One path segment for a key part or partition key, exactly as core's ``encodeSegment``.

    ``encodeURIComponent``, then a leading "." encoded (so "." and ".." cannot climb out of the
    asset's folder), and the reserved ``__unpartitioned__`` encoded so a partition of that name
    cannot take the unpartitioned folder.
    """
    encoded = quote(part, safe=_URI_COMPONENT_SAFE, errors="strict")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return "%5F_unpartitioned__" if encoded == UNPARTITIONED else encoded


def _key_parts(key: str | Sequence[str]) -> list[str]:
    parts = key.split("/") if isinstance(key, str) else list(key)
    if not parts:
        raise StorageError(
            "an asset key needs at least one part", 'use a key such as "sales/orders"'
        )
    for part in parts:
        if not isinstance(part, str) or part == "":
            raise StorageError(
                f"asset key part {part!r} of {key!r} cannot name a storage folder",
                'use non-empty key parts, e.g. "sales/orders" or ["sales", "orders"]',
            )
    return parts


def _shown(asset: str, partition: str | None) -> str:
    return f'"{asset}"' + (
        f" partition {json.dumps(partition)}" if partition is not None else ""
    )


def _materialize_hint(asset: str, partition: str | None) -> str:
    tail = f" --partition {partition}" if partition is not None else ""
    return f"materialize it first: baton materialize --select {asset}{tail} (or run it in your orchestrator)"


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    # As core's S3 store reads it: "true" or "false" in any case, unset or empty the default.
    value = (env.get(name) or "").lower()
    if value in ("", "true", "false"):
        return default if value == "" else value == "true"
    raise StorageError(
        f"{name} must be true or false, not {env.get(name)!r}",
        f"set {name}=true or {name}=false, or unset it (default: path-style "
        "addressing when AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL is set)",
    )


def s3_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``s3fs.S3FileSystem`` keyword arguments from the environment, as core's S3 store reads it.

    Region ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else us-east-1; endpoint
    ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``; path-style addressing from
    ``BATON_S3_PATH_STYLE`` (default: on when an endpoint is set). Credentials given in the
    environment are passed on; otherwise botocore's default chain finds them (profile, shared
    files, instance and container roles). Also usable as ``storage_options`` for UPath or fsspec.
    """
    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    path_style = _flag(env, "BATON_S3_PATH_STYLE", endpoint is not None)
    options: dict[str, Any] = {
        "client_kwargs": {"region_name": region},
        "config_kwargs": {
            "s3": {"addressing_style": "path" if path_style else "virtual"}
        },
    }
    if endpoint is not None:
        options["endpoint_url"] = endpoint
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        options["key"] = env["AWS_ACCESS_KEY_ID"]
        options["secret"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            options["token"] = env["AWS_SESSION_TOKEN"]
    elif env.get("AWS_PROFILE"):
        options["profile"] = env["AWS_PROFILE"]
    return options


def _need(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"reading Baton outputs needs {module}: pip install 'baton-core[{extra}]'"
        ) from e


@dataclass(frozen=True)
class _Store:
    """A store root: a local folder or ``s3://bucket/prefix``; paths are '/'-joined below it."""

    url: str
    local: Path | None = None
    fs: Any = None  # s3fs.S3FileSystem
    base: str = ""  # "bucket/prefix" for s3fs
    endpoint: str | None = None

    def path(self, segments: Sequence[str]) -> str:
        if self.local is not None:
            return str(self.local.joinpath(*segments))
        return "/".join([self.base, *segments])

    def shown(self, segments: Sequence[str]) -> str:
        return (
            self.path(segments)
            if self.local is not None
            else f"s3://{self.path(segments)}"
        )

    def read(self, segments: Sequence[str]) -> bytes:
        """The object's bytes in one read; FileNotFoundError when it is absent."""
        if self.local is not None:
            try:
                return Path(self.path(segments)).read_bytes()
            except FileNotFoundError:
                raise
            except OSError as e:
                raise self._error(
                    segments,
                    e,
                    f"check that this user can read the folder, or set BATON_STORAGE to the store the outputs were written to (now {self.url})",
                ) from e
        try:
            return cast(bytes, self.fs.cat_file(self.path(segments)))
        except FileNotFoundError as e:
            # s3fs reports a missing bucket as a missing file; its cause has the S3 error code.
            response = getattr(e.__cause__, "response", None)
            code = (
                response.get("Error", {}).get("Code")
                if isinstance(response, dict)
                else None
            )
            if code == "NoSuchBucket":
                raise StorageError(
                    f"the bucket of the store {self.url} does not exist{self._at()}",
                    "create the bucket, or set BATON_STORAGE to the store the outputs were written to",
                ) from e
            raise
        except PermissionError as e:
            raise self._error(
                segments,
                e,
                "the credentials are rejected or may not read it: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy",
            ) from e
        # botocore's connection and client errors are not OSErrors
        except Exception as e:
            raise self._error(segments, e, self._reach_hint()) from e

    def write(self, segments: Sequence[str], data: bytes) -> None:
        """Write one object (for test builders: core's own writers commit through temp + rename)."""
        if self.local is not None:
            target = Path(self.path(segments))
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            temp.write_bytes(data)
            temp.replace(target)
        else:
            self.fs.pipe_file(self.path(segments), data)

    def _at(self) -> str:
        return f" (endpoint {self.endpoint})" if self.endpoint else ""

    def _reach_hint(self) -> str:
        return "check that the endpoint answers (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), the region (AWS_REGION) and the network"

    def _error(self, segments: Sequence[str], e: Exception, hint: str) -> StorageError:
        return StorageError(
            f"cannot read {self.shown(segments)} from the store {self.url}{self._at()}: {e}",
            hint,
        )


def _open_store(
    storage: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> _Store:
    if storage is None:
        storage = (os.environ if env is None else env).get("BATON_STORAGE")
        if not storage:
            raise StorageUrlError(
                "no store given: storage= is None and BATON_STORAGE is not set",
                f"pass storage= or set BATON_STORAGE to where Baton wrote the outputs ({SUPPORTED_FORMS})",
            )
    text = os.fspath(storage)
    if text == "":
        raise StorageUrlError("the store is an empty string", f"use {SUPPORTED_FORMS}")
    scheme = _SCHEME.match(text)
    if scheme is None:
        return _Store(url=str(Path(text).resolve()), local=Path(text).resolve())
    name = scheme.group(1).lower()
    parts = urlsplit(text)
    if name == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StorageUrlError(
                f"store {text!r}: a file:// URL needs an absolute path",
                "use file:///absolute/path",
            )
        local = Path(unquote(parts.path))
        return _Store(url=str(local), local=local)
    if name == "s3":
        bucket = parts.netloc
        prefix = parts.path.strip("/")
        if bucket == "" or parts.query or parts.fragment:
            raise StorageUrlError(
                f"store {text!r} is not an s3://bucket/prefix URL",
                "use s3://bucket or s3://bucket/prefix",
            )
        s3fs = _need("s3fs", "s3")
        options = s3_options(env)
        fs = s3fs.S3FileSystem(**options)
        url = f"s3://{bucket}" + (f"/{prefix}" if prefix else "")
        base = bucket + (f"/{prefix}" if prefix else "")
        return _Store(url=url, fs=fs, base=base, endpoint=options.get("endpoint_url"))
    raise StorageUrlError(
        f"store {text!r}: the scheme {name}:// is not supported",
        f"use {SUPPORTED_FORMS}",
    )


def _folder(key: list[str], partition: str | None) -> list[str]:
    if partition is not None and (not isinstance(partition, str) or partition == ""):
        raise StorageError(
            f"partition key {partition!r} of {'/'.join(key)!r} cannot name a storage folder",
            "use a non-empty partition key, or None for an unpartitioned asset",
        )
    last = UNPARTITIONED if partition is None else encode_segment(partition)
    return [*(encode_segment(p) for p in key), last]


def _read_record(
    store: _Store, key: list[str], partition: str | None
) -> OutputRecord | None:
    asset = "/".join(key)
    segments = [*_folder(key, partition), "record.json"]
    try:
        raw = store.read(segments)
    except FileNotFoundError:
        return None
    try:
        record = json.loads(raw)
    except ValueError as e:
        raise StorageError(
            f"cannot read the output record of {_shown(asset, partition)} at {store.shown(segments)}: {e}",
            "re-materialize the asset to rewrite its output",
        ) from e
    if (
        not isinstance(record, dict)
        or record.get("assetKey") != asset
        or record.get("partitionKey") != partition
    ):
        owner = (
            _shown(str(record.get("assetKey")), record.get("partitionKey"))
            if isinstance(record, dict)
            else json.dumps(record)
        )
        raise RecordMismatchError(
            f"the output record found for {_shown(asset, partition)} at {store.shown(segments)} belongs to {owner}: refusing to read another asset's data",
            f"two keys share this folder (a store written by an older Baton, keys differing only in case on a case-insensitive filesystem, or files copied by hand): delete {store.shown(segments[:-1])} and re-materialize both",
        )
    return cast(OutputRecord, record)


def read_record(
    key: str | Sequence[str],
    partition: str | None = None,
    storage: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> OutputRecord | None:
    """The committed record of one output, or None when it has not been materialized.

    ``key`` is "a/b" or ["a", "b"]; ``partition`` the partition key (None: unpartitioned);
    ``storage`` a folder, ``file:///…`` or ``s3://bucket/prefix`` (default: ``BATON_STORAGE``).
    ``env`` replaces ``os.environ`` as the source of BATON_STORAGE and the S3 settings (AWS_*,
    BATON_S3_PATH_STYLE), for callers that resolve credentials from their own secret store.
    A record that names another asset or partition raises RecordMismatchError.
    """
    return _read_record(_open_store(storage, env), _key_parts(key), partition)


def read_output(
    key: str | Sequence[str],
    partition: str | None = None,
    storage: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> polars.DataFrame:
    """The rows of one committed output as a polars DataFrame.

    Reads the record, then the data file it names (Parquet or Arrow IPC); if that file is gone
    (a newer commit replaced it after the record was read) the record is read once more. Raises
    MissingOutputError when there is no output, StorageUrlError for an unset or unsupported
    store, StorageError for anything else, naming the store and what to fix. ``key``,
    ``partition``, ``storage`` and ``env`` are as for ``read_record``.
    """
    pl = _need("polars", "read")
    return _read_output(pl, _open_store(storage, env), _key_parts(key), partition)


def read_outputs(
    key: str | Sequence[str],
    partitions: Sequence[str],
    storage: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> polars.DataFrame:
    """Several partitions of one asset as one DataFrame, concatenated in the order given.

    Each partition is read as by ``read_output`` (a missing one is an error, never skipped), as
    core's ``readMany`` reads a partition range for an unpartitioned downstream.
    """
    if isinstance(partitions, str):
        raise TypeError("partitions is a sequence of partition keys, not one key")
    pl = _need("polars", "read")
    store = _open_store(storage, env)
    parts = _key_parts(key)
    if len(partitions) == 0:
        raise MissingOutputError(
            f'no partitions of "{"/".join(parts)}" to read',
            "pass at least one partition key",
        )
    frames = [_read_output(pl, store, parts, p) for p in partitions]
    if len(frames) == 1:
        return frames[0]
    return cast("polars.DataFrame", pl.concat(frames, how="vertical"))


def _read_output(
    pl: Any, store: _Store, parts: list[str], partition: str | None
) -> polars.DataFrame:
    asset = "/".join(parts)
    folder = _folder(parts, partition)
    retried = False
    while True:
        record = _read_record(store, parts, partition)
        if record is None:
            raise MissingOutputError(
                f"{_shown(asset, partition)} has not been materialized (looked in {store.shown(folder)})",
                _materialize_hint(asset, partition),
            )
        if record.get("format") == "iceberg":
            raise _table_output_error(record, asset, partition)
        file = record.get("file")
        if record.get("format") == "none" or file is None:
            raise MissingOutputError(
                f'{_shown(asset, partition)} has no table output (its record says format "none")',
                "read the output of an asset that returns a table",
            )
        if (
            not isinstance(file, str)
            or file in ("", ".", "..")
            or "/" in file
            or "\\" in file
        ):
            raise StorageError(
                f"the output record of {_shown(asset, partition)} names {file!r}, not a file in its folder",
                "re-materialize the asset to rewrite its output",
            )
        try:
            data = store.read([*folder, file])
        except FileNotFoundError as e:
            # A newer commit removed it after we read the old record: read the new one, once.
            if not retried:
                retried = True
                continue
            raise MissingOutputError(
                f"the data file of {_shown(asset, partition)} is gone: {store.shown([*folder, file])}",
                _materialize_hint(asset, partition).replace(
                    "materialize it first", "re-materialize it"
                ),
            ) from e
        return _decode(pl, data, record, asset, partition, store.shown([*folder, file]))


def _table_output_error(
    record: OutputRecord, asset: str, partition: str | None
) -> StorageError:
    """An Iceberg output is rows of a snapshot in a catalog, not a file of the store."""
    table = record.get("table")
    name = table.get("name") if table else None
    snapshot = table.get("snapshotId") if table else None
    if not isinstance(name, str) or not isinstance(snapshot, str):
        return StorageError(
            f'the output record of {_shown(asset, partition)} has format "iceberg" '
            "but names no table snapshot",
            "re-materialize the asset to rewrite its output",
        )
    where = ""
    column = table.get("partitionColumn") if table else None
    if partition is not None and isinstance(column, str):
        where = f".filter(pl.col({column!r}).cast(pl.Utf8) == {partition!r})"
    return StorageError(
        f"the output of {_shown(asset, partition)} is Iceberg table {name} "
        f"snapshot {snapshot}, not a file of the store",
        "read that snapshot with pyiceberg (the uri and warehouse of the catalog "
        f'resource "{table.get("catalog") if table else ""}"): '
        f'load_catalog("rest", uri=…, warehouse=…).load_table("{name}")'
        f".scan(snapshot_id={snapshot}).to_polars(){where}",
    )


def _decode(
    pl: Any,
    data: bytes,
    record: OutputRecord,
    asset: str,
    partition: str | None,
    where: str,
) -> polars.DataFrame:
    fmt = record.get("format")
    try:
        if fmt == "parquet":
            frame = pl.read_parquet(io.BytesIO(data))
        elif fmt == "ipc":
            frame = pl.read_ipc(io.BytesIO(data))
        else:
            raise StorageError(
                f"the output record of {_shown(asset, partition)} has format {fmt!r}",
                "this baton-core reads parquet and ipc outputs: upgrade baton-core",
            )
    except StorageError:
        raise
    except Exception as e:
        raise StorageError(
            f"cannot decode the {fmt} data of {_shown(asset, partition)} at {where}: {e}",
            "re-materialize the asset to rewrite its output",
        ) from e
    rows = record.get("rowCount")
    if rows is not None and frame.height != rows:
        raise StorageError(
            f"the data of {_shown(asset, partition)} at {where} has {frame.height} rows, its record says {rows}",
            "re-materialize the asset to rewrite its output",
        )
    return cast("polars.DataFrame", frame)
