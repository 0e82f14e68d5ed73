"""Prefect flows for Baton definitions: one task per asset, wired with `wait_for`.

`flows.py` (written by `baton prefect build`) creates a `BatonProject` from the manifest and
defines the flows and deployments with it. Nothing here starts Node until a task runs.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task, unmapped
from prefect.artifacts import create_table_artifact
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import AssetContext, TaskRunContext
from prefect.events import emit_event
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run, task_run
from prefect.settings import get_current_settings
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import Task

from baton_core import (
    PlanError,
    StepResult,
    Verdict,
    code_reference,
    plan_run,
    run_step,
    schedule_tick_plan,
)
from baton_core.build import read_build
from baton_core.manifest_types import ManifestAsset, ManifestDep, PartitionsDefinition
from baton_core.mapping import upstream_keys
from baton_core.plan import RunPlan as CorePlan
from baton_core.step import log_level
from baton_core.worker import StepProcess, WorkerProcess

from .caching import cache_key, cacheable, output_stored
from .checks import (
    BatonCheckFailed,
    artifact_key,
    check_deps,
    check_row,
    failed_error_checks,
    select_checks,
    standalone_checks,
    task_name,
)
from .errors import (
    BatonManifestError,
    BatonPartitionError,
    BatonRunError,
    BatonStepError,
    BatonStepTimeout,
)
from .keys import asset_key
from .manifest import Manifest
from .pools import create_pool_limits, pool_tag
from .resources import (
    ResourceMapping,
    StepEnvironment,
    step_environment,
    storage_credentials,
    with_storage_credentials,
)
from .tables import commit_line, commit_rows, table_artifact_key, table_metadata

# Node steps at once in a flow run, as `baton materialize --concurrency` by default;
# PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS sets another number.
DEFAULT_MAX_WORKERS = 4
# What the task's timeout_seconds adds to an asset's timeoutSeconds (the execution contract's
# grace: core's own limit, and its watchdog 5 s later, normally end the step first).
TIMEOUT_GRACE_SECONDS = 10


def slug(text: str) -> str:
    """Lowercase letters, digits and dashes: what artifact keys and variable names accept."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class RunPlan:
    """What one flow run materializes (baton_core's plan), checked before any task starts."""

    assets: list[str]
    # The partition keys each partitioned asset runs: one task run per key (``.map()``).
    keys: dict[str, list[str]] = field(default_factory=dict)
    # The partitions each partitioned asset runs, in words (the run's log).
    labels: dict[str, str] = field(default_factory=dict)
    skip_reason: str | None = None
    # Assets the run leaves out on purpose, with the reason (in the run's log and result).
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The run's partition key: the one asked for, or the one a schedule's tick picked.
    partition_key: str | None = None


class BatonProject:
    """A Baton manifest seen from Prefect: plans runs, runs assets as tasks, evaluates sensors."""

    def __init__(
        self,
        manifest: str | Path,
        *,
        flow_name: str,
        resources: ResourceMapping | None = None,
        storage: str | None = None,
        storage_secret: str | None = None,
        cache: bool = False,
    ) -> None:
        self.manifest = Manifest.load(manifest)
        # Opt-in task caching (the build option ``cache``; see caching.py).
        self.cache = cache
        self.flow_name = flow_name
        self.resources: ResourceMapping = resources or {}
        self.storage = storage
        # A Secret block with the S3 store's credentials, loaded when a step runs (never a value here).
        self.storage_secret = storage_secret
        # A worker's BATON_STORAGE wins over the build's storage, for the steps and the keys.
        self._assets = {
            a: self._prefect_asset(a, os.environ.get("BATON_STORAGE") or storage)
            for a in self.manifest.assets
        }
        self._tasks: dict[str, Task[..., dict[str, Any]]] = {}
        # Set when this process is told to stop (a cancelled flow run): no step starts or retries.
        self._cancelled = threading.Event()
        # The stop signal of each Node step running now (set on cancellation or at its deadline).
        self._steps: set[threading.Event] = set()

    @classmethod
    def from_build(cls, manifest: str | Path, *, flow_name: str) -> BatonProject:
        """The project of a build folder: its storage default, the resource mapping (the
        ``resources`` option) and the storage Secret's name (``storageSecret``) come from
        ``baton/build.json`` next to the manifest."""
        build = read_build(manifest)
        resources = build.options.get("resources")
        if resources is not None and not isinstance(resources, Mapping):
            raise BatonManifestError(
                f'{Path(manifest).parent / "build.json"}: option "resources" is not an'
                " object; rebuild with `baton prefect build --resources FILE.json`"
            )
        cache = build.options.get("cache", False)
        if not isinstance(cache, bool):
            raise BatonManifestError(
                f'{Path(manifest).parent / "build.json"}: option "cache" is not true or'
                " false; rebuild with `baton prefect build` (add --cache to cache tasks)"
            )
        storage_secret = build.options.get("storageSecret")
        if storage_secret is not None and not isinstance(storage_secret, str):
            raise BatonManifestError(
                f'{Path(manifest).parent / "build.json"}: option "storageSecret" is not a'
                " name; rebuild with `baton prefect build --storage-secret NAME`"
            )
        return cls(
            manifest,
            flow_name=flow_name,
            resources=resources,
            storage=build.storage,
            storage_secret=storage_secret,
            cache=cache,
        )

    # -- planning --------------------------------------------------------------------------------

    def plan(
        self,
        assets: list[str] | None = None,
        partition_key: str | None = None,
        partition_range_start: str | None = None,
        partition_range_end: str | None = None,
        schedule: str | None = None,
        scheduled_start: datetime | None = None,
        now: datetime | None = None,
    ) -> RunPlan:
        """Select and order the assets and their partitions (baton_core.plan's rules); raises
        BatonPartitionError before anything runs.

        A run of every asset (``assets`` empty) without a partition leaves the partitioned ones
        out with a reason; naming a partitioned asset without a partition is an error. A schedule
        run takes the last window complete at its scheduled start, and skips after the end.
        """
        if (partition_range_start is None) != (partition_range_end is None):
            raise BatonPartitionError(
                "pass both partition_range_start and partition_range_end, or neither"
            )
        partition_range = (
            (partition_range_start, partition_range_end)
            if partition_range_start is not None and partition_range_end is not None
            else None
        )
        try:
            if (
                schedule is not None
                and partition_key is None
                and partition_range is None
            ):
                self.manifest.schedule(schedule)  # an unknown name fails as a selection
                tick = schedule_tick_plan(
                    self.manifest, schedule, scheduled_start or now or _utcnow()
                )
                if tick.plan is None:
                    return RunPlan([], skip_reason=tick.skip_reason)
                return self._run_plan(tick.plan, tick.partition_key)
            if schedule is not None and not assets:
                assets = list(self.manifest.schedule(schedule)["assets"])
            if assets:
                self.manifest.ordered(assets)  # unknown ids fail with the nearest name
            plan = plan_run(
                self.manifest, assets or None, partition_key, partition_range, now
            )
        except PlanError as e:
            raise BatonPartitionError(str(e)) from None
        return self._run_plan(plan, partition_key)

    def _run_plan(self, plan: CorePlan, partition_key: str | None) -> RunPlan:
        keys = {
            a.asset_id: a.partition_keys
            for a in plan.assets
            if a.partition_keys is not None
        }
        labels = {
            a.asset_id: _label(a.partition_keys)
            for a in plan.assets
            if a.partition_keys is not None
        }
        skipped = {s.asset_id: s.reason for s in plan.skipped}
        skip_reason = (
            "every selected asset is partitioned and the run names no partition"
            if skipped and not plan.assets
            else None
        )
        return RunPlan(
            plan.asset_ids,
            keys,
            labels,
            skip_reason,
            skipped,
            list(plan.warnings),
            partition_key,
        )

    # -- flows -----------------------------------------------------------------------------------

    def materialize(
        self,
        assets: list[str] | None = None,
        partition_key: str | None = None,
        partition_range_start: str | None = None,
        partition_range_end: str | None = None,
        schedule: str | None = None,
    ) -> dict[str, Any]:
        """The body of the materialize flow: one task run per asset and partition, upstream
        first (a partitioned asset's partitions as one ``.map()``); waits for all of them."""
        logger = get_run_logger()
        self._cancelled.clear()  # a new flow run of this process
        plan = self.plan(
            assets,
            partition_key,
            partition_range_start,
            partition_range_end,
            schedule,
            scheduled_start=flow_run.get_scheduled_start_time() if schedule else None,
        )
        for asset_id, reason in plan.skipped.items():
            logger.info("Skipped %s: %s", asset_id, reason)
        for warning in plan.warnings:
            logger.warning("%s", warning)
        if plan.skipped:
            _skipped_artifact(plan.skipped)
        if plan.skip_reason:
            logger.info("Nothing to run: %s", plan.skip_reason)
            return {"skipped": plan.skip_reason, "skipped_assets": plan.skipped}
        futures: dict[str, list[tuple[str | None, Future]]] = {}
        checks: dict[tuple[str, str], list[tuple[str | None, Future]]] = {}
        with self._stop_steps_when_interrupted():
            for asset_id in plan.assets:
                futures[asset_id] = self._submit(
                    asset_id, plan.keys.get(asset_id), futures
                )
            # Standalone checks after their target's and inputs' task runs; upstream of nothing.
            for asset_id in plan.assets:
                for check in standalone_checks(self.manifest.asset(asset_id)):
                    checks[(asset_id, check["name"])] = self._submit_check(
                        asset_id, check["name"], plan.keys.get(asset_id), futures
                    )
            wait(
                [f for fs in futures.values() for _, f in fs]
                + [f for fs in checks.values() for _, f in fs]
            )
        # The first failure in run order (the plan's order) leads the message.
        runs = [*futures.items(), *((task_name(*c), fs) for c, fs in checks.items())]
        _raise_problems(runs)
        results: dict[str, Any] = {
            a: _merged([f.result() for _, f in fs]) for a, fs in futures.items()
        }
        for (asset_id, _), fs in checks.items():
            results[asset_id]["checks"] += [
                r for _, f in fs for r in f.result()["checks"]
            ]
        if plan.skipped:
            results["skipped_assets"] = plan.skipped
        return results

    def check(
        self,
        checks: list[str] | None = None,
        partition_key: str | None = None,
        partition_range_start: str | None = None,
        partition_range_end: str | None = None,
    ) -> dict[str, Any]:
        """The body of the checks flow: run checks alone against the stored outputs, a task run
        per check and partition (``check <asset>:<name>``), materializing nothing.

        ``checks`` entries are ``"<asset>:<check>"`` or ``"<asset>"`` (all its checks); none runs
        every check, skipping the partitioned assets' without a partition, as a materialize run
        does. The flow run fails when an error-severity check failed or an output is missing.
        """
        logger = get_run_logger()
        self._cancelled.clear()
        plan, selected = self.plan_checks(
            checks, partition_key, partition_range_start, partition_range_end
        )
        for asset_id, reason in plan.skipped.items():
            logger.info("Skipped the checks of %s: %s", asset_id, reason)
        for warning in plan.warnings:
            logger.warning("%s", warning)
        if plan.skip_reason:
            logger.info("Nothing to check: %s", plan.skip_reason)
            return {"skipped": plan.skip_reason, "skipped_assets": plan.skipped}
        runs: dict[tuple[str, str], list[tuple[str | None, Future]]] = {}
        with self._stop_steps_when_interrupted():
            for asset_id in plan.assets:
                for name in selected[asset_id]:
                    runs[(asset_id, name)] = self._submit_check(
                        asset_id, name, plan.keys.get(asset_id), {}
                    )
            wait([f for fs in runs.values() for _, f in fs])
        _raise_problems([(task_name(*c), fs) for c, fs in runs.items()])
        result: dict[str, Any] = {
            "checks": [
                r for fs in runs.values() for _, f in fs for r in f.result()["checks"]
            ]
        }
        if plan.skipped:
            result["skipped_assets"] = plan.skipped
        return result

    def plan_checks(
        self,
        checks: list[str] | None = None,
        partition_key: str | None = None,
        partition_range_start: str | None = None,
        partition_range_end: str | None = None,
    ) -> tuple[RunPlan, dict[str, list[str]]]:
        """The checks a checks flow run runs, by target, and the targets' partitions (the plan
        of a materialize run of those targets); raises before anything runs."""
        selected = select_checks(self.manifest, checks)
        plan = self.plan(
            list(selected) if checks else None,
            partition_key,
            partition_range_start,
            partition_range_end,
        )
        assets = [a for a in plan.assets if a in selected]
        skipped = {a: r for a, r in plan.skipped.items() if a in selected}
        reason = (
            "every selected check is on a partitioned asset and the run names no partition"
            if not assets
            else None
        )
        return (
            RunPlan(
                assets,
                {a: k for a, k in plan.keys.items() if a in selected},
                {a: v for a, v in plan.labels.items() if a in selected},
                reason,
                skipped,
                plan.warnings,
                plan.partition_key,
            ),
            selected,
        )

    def _submit(
        self,
        asset_id: str,
        keys: list[str] | None,
        submitted: Mapping[str, list[tuple[str | None, Future]]],
    ) -> list[tuple[str | None, Future]]:
        """The asset's task runs, by partition key: one (key None), or one per key (``.map()``,
        run in parallel), each waiting only for the upstream task runs of the partitions it
        reads, so a failed upstream partition holds back only its own downstream. With caching,
        a run whose output the store no longer has refreshes its cache entry instead."""
        task = self.task(asset_id)
        spec = self.manifest.asset(asset_id)
        upstream = [
            f for u in self.manifest.upstream(asset_id) for _, f in submitted.get(u, [])
        ]
        wanted: list[str | None] = [None] if keys is None else list(keys)
        missing = self._missing_outputs(asset_id, wanted)
        if keys is None:
            if missing:
                task = task.with_options(refresh_cache=True)
            return [(None, task.submit(asset_id, None, wait_for=upstream))]
        named = task.with_options(task_run_name="{asset} [{partition_key}]")
        stale = set(missing)
        runs: list[tuple[str | None, Future]] = []
        for refresh in (False, True):
            group = [k for k in keys if (k in stale) == refresh]
            if group:
                mapper = named.with_options(refresh_cache=True) if refresh else named
                reads = [
                    self._reads(spec["deps"], spec["partitions"], k, submitted)
                    for k in group
                ]
                # Futures in a parameter are dependencies, as wait_for is (the run graph's edges).
                mapped = mapper.map(unmapped(asset_id), group, upstream=reads)
                runs += zip(group, mapped, strict=True)
        return runs

    def _submit_check(
        self,
        asset_id: str,
        check: str,
        keys: list[str] | None,
        submitted: Mapping[str, list[tuple[str | None, Future]]],
    ) -> list[tuple[str | None, Future]]:
        """A check's task runs, by partition key of its target: each waits for the target's task
        run of its key and for those of its inputs (through their partition mappings) that are
        in this flow run, so a failed one leaves it ``NotReady`` (not run, not failed)."""
        spec = self.manifest.asset(asset_id)
        found = next(c for c in spec["checks"] if c["name"] == check)
        deps = check_deps(found)
        task = self.check_task(asset_id, check)
        if keys is None:
            upstream = [f for _, f in submitted.get(asset_id, [])]
            upstream += self._reads(deps, spec["partitions"], None, submitted)
            return [(None, task.submit(asset_id, check, None, wait_for=upstream))]
        named = task.with_options(
            task_run_name=f"{task_name(asset_id, check)} [{{partition_key}}]"
        )
        reads = [
            [f for k, f in submitted.get(asset_id, []) if k == key]
            + self._reads(deps, spec["partitions"], key, submitted)
            for key in keys
        ]
        mapped = named.map(unmapped(asset_id), unmapped(check), keys, upstream=reads)
        return list(zip(keys, mapped, strict=True))

    def _reads(
        self,
        deps: list[ManifestDep],
        partitions: PartitionsDefinition | None,
        key: str | None,
        submitted: Mapping[str, list[tuple[str | None, Future]]],
    ) -> list[Future]:
        """The upstream task runs one partition (``key``) of a reader with ``deps`` and
        ``partitions`` waits for: through an input's partition mapping, the upstream partitions
        it reads; otherwise all of them."""
        found: dict[int, Future] = {}
        for dep in deps:
            runs = submitted.get(dep["id"], [])
            up = self.manifest.asset(dep["id"])["partitions"]
            mapping = dep["partitionMapping"]
            if (
                key is not None
                and dep["input"] is not None
                and mapping is not None
                and up is not None
            ):
                read = set(upstream_keys(partitions, [key], up, mapping, _utcnow()))
                runs = [(k, f) for k, f in runs if k in read]
            for _, f in runs:
                found[id(f)] = f
        return list(found.values())

    def _missing_outputs(
        self, asset_id: str, keys: list[str | None]
    ) -> list[str | None]:
        """The keys of a cached asset whose output the store no longer has: their task runs
        must run (refreshing the cache entry) rather than reuse a reference to nothing."""
        spec = self.manifest.asset(asset_id)
        if not (self.cache and cacheable(spec)):
            return []
        env = self.environment(spec["resources"]).env
        return [k for k in keys if not output_stored(self.manifest, asset_id, k, env)]

    def task(self, asset_id: str) -> Task[..., dict[str, Any]]:
        """The Prefect task that materializes one asset (named for it in the run graph); its
        runs take the asset id and one partition key (None when unpartitioned)."""
        if asset_id not in self._tasks:
            spec = self.manifest.asset(asset_id)
            upstream: list[Asset | str] = [
                self._assets[u]
                for u in self.manifest.upstream(asset_id)
                if u in self._assets
            ]
            retry = spec["retry"] or {
                "maxRetries": 0,
                "delaySeconds": 0,
                "backoff": "constant",
            }
            delay = retry["delaySeconds"]
            delays: float | list[float] = (
                [delay * 2**i for i in range(retry["maxRetries"])]
                if retry["backoff"] == "exponential"
                else delay
            )
            project = self

            def run_asset(
                asset: str,
                partition_key: str | None = None,
                upstream: list[Any] | None = None,
            ) -> dict[str, Any]:
                # ``upstream``: the results of the task runs it waited for (references only).
                return project.run_asset(asset, partition_key)

            def retry_condition(
                task: Task[..., Any], run: TaskRun, state: State[Any]
            ) -> bool:
                return not project._cancelled.is_set() and _retryable(state)

            tags = [
                f"group:{spec['group']}",
                *(f"{k}:{v}" for k, v in spec["tags"].items()),
            ]
            pool = spec.get("pool")
            if pool:
                tags.append(pool_tag(pool))
            cached = self.cache and cacheable(spec)
            caching: dict[str, Any] = (
                # The result is the output's references (JSON), never the frame.
                {
                    "cache_key_fn": self._cache_key,
                    "persist_result": True,
                    "result_serializer": "json",
                }
                if cached
                else {"cache_policy": NO_CACHE, "persist_result": False}
            )
            self._tasks[asset_id] = materialize(
                self._assets[asset_id],
                by="baton",
                name=asset_id,
                description=_task_description(spec),
                tags=tags,
                version=spec["codeVersion"],
                asset_deps=upstream,
                retries=retry["maxRetries"],
                retry_delay_seconds=delays,
                retry_condition_fn=retry_condition,
                # One partition per task run: the contract's budget is timeoutSeconds plus grace.
                timeout_seconds=_task_limit(spec),
                task_run_name=asset_id,
                **caching,
            )(run_asset)
        return self._tasks[asset_id]

    def check_task(self, asset_id: str, check: str) -> Task[..., dict[str, Any]]:
        """The Prefect task that runs one check of an asset alone against its stored output
        (``check <asset>:<name>``); its runs take the asset, the check and one partition key.

        Not a materializing task (it writes nothing, so it emits no asset event); no retries
        (a check's verdict does not change on a retry) and no cache. Its timeout is its
        target's: ``timeoutSeconds`` bounds a check step's read and checks too.
        """
        name = task_name(asset_id, check)
        if name not in self._tasks:
            spec = self.manifest.asset(asset_id)
            project = self

            def run_check(
                asset: str,
                check: str,
                partition_key: str | None = None,
                upstream: list[Any] | None = None,
            ) -> dict[str, Any]:
                # ``upstream``: the task runs it waited for (its target's and inputs').
                return project.run_check(asset, check, partition_key)

            found = next(c for c in spec["checks"] if c["name"] == check)
            self._tasks[name] = task(
                name=name,
                description=found["description"]
                or f"Baton check `{check}` of `{asset_id}`",
                tags=["baton-check", f"group:{spec['group']}"],
                timeout_seconds=_task_limit(spec),
                task_run_name=name,
                cache_policy=NO_CACHE,
                persist_result=False,
            )(run_check)
        return self._tasks[name]

    def _cache_key(
        self, context: TaskRunContext, parameters: dict[str, Any]
    ) -> str | None:
        """Prefect's cache_key_fn: see caching.py (read when the task run starts, after its
        upstream task runs finished)."""
        asset, key = parameters["asset"], parameters.get("partition_key")
        env = self.environment(self.manifest.asset(asset)["resources"]).env
        return cache_key(self.manifest, asset, key, env, _utcnow())

    def create_pool_limits(self) -> dict[str, int]:
        """Create (or update) the tag concurrency limit of each Baton pool on the Prefect API:
        part of deploying (flows.py's ``deployments()``). Returns tag -> limit."""
        return create_pool_limits(self.manifest)

    def run_asset(self, asset: str, partition_key: str | None = None) -> dict[str, Any]:
        """One task attempt: run the asset for one partition (or unpartitioned) in Node and
        report what it printed to Prefect.

        The task completes only when the step's verdict is a success; anything else fails it,
        retryable or not. An output a failing step did commit (before an error-severity check
        or a resource teardown failed) still gets its materialization event. Past the asset's
        timeoutSeconds plus grace the step is stopped and the task run ends ``TimedOut``.
        """
        logger = get_run_logger()
        spec = self.manifest.asset(asset)
        environment = self.environment(spec["resources"])
        base = ["--asset", asset, "--run-id", str(flow_run.get_id() or "adhoc")]
        base += ["--retry", str(max(task_run.get_run_count() - 1, 0))]
        if partition_key is not None:
            base += ["--partition", partition_key]

        timeout = spec.get("timeoutSeconds")
        limit = _task_limit(spec)
        result, stopped = self._run_bounded(
            "run", base, asset, limit, environment, logger
        )
        timed_out = stopped and not self._cancelled.is_set()
        materializations = [
            m for m in result.of_type("materialization") if m["asset"] == asset
        ]
        checks = result.of_type("check")
        failure: BatonStepError | None = None
        judged = _verdict(result, [asset])
        if self._cancelled.is_set():
            failure = BatonStepError(
                asset, "the flow run was cancelled", retryable=False
            )
        elif timed_out:
            failure = BatonStepTimeout(
                asset,
                f"timed out after {limit:g} s (the task's timeout_seconds: timeoutSeconds"
                f" {timeout:g} plus {TIMEOUT_GRACE_SECONDS} s); its Node step was stopped",
            )
        elif not judged.ok:
            error = BatonStepTimeout if _timed_out(result) else BatonStepError
            failure = _step_error(error, asset, result, judged, environment)
        if checks:
            create_table_artifact(
                key=f"{slug(asset)}-checks",
                table=environment.redact_all([check_row(c, asset) for c in checks]),
                description=f"Baton asset checks of `{asset}`",
            )
        _report_tables(asset, materializations, environment, logger)
        metadata = (
            environment.redact_all(_asset_metadata(materializations, spec))
            if materializations
            else None
        )
        if failure is not None:
            if metadata is not None and not self._cancelled.is_set():
                _emit_materialized(self._assets[asset], metadata)
            raise failure
        if metadata is not None:
            add_asset_metadata(self._assets[asset].key, metadata)
        reported: dict[str, Any] = environment.redact_all(
            {
                "asset": asset,
                "uri": self._assets[asset].key,
                "materializations": [_reference(m) for m in materializations],
                "checks": [check_row(c, asset) for c in checks],
            }
        )
        return reported

    def run_check(
        self, asset: str, check: str, partition_key: str | None = None
    ) -> dict[str, Any]:
        """One check task attempt: ``baton-step check --asset A --check C`` against the stored
        output of one partition (and the check's stored inputs), materializing nothing.

        The verdict is logged and kept as the table artifact ``<asset>-<check>-check``; a failed
        error-severity check fails the task (``BatonCheckFailed``) after it is reported, a
        failed warn-severity one is reported and the task completes. A missing stored output,
        or any other failure of the step, fails the task with the step's message.
        """
        logger = get_run_logger()
        spec = self.manifest.asset(asset)
        environment = self.environment(spec["resources"])
        args = ["--asset", asset, "--check", check]
        args += ["--run-id", str(flow_run.get_id() or "adhoc")]
        if partition_key is not None:
            args += ["--partition", partition_key]
        limit = _task_limit(spec)
        result, stopped = self._run_bounded(
            "check", args, asset, limit, environment, logger
        )
        events = [e for e in result.of_type("check") if e["check"] == check]
        rows = environment.redact_all([check_row(e, asset) for e in events])
        if rows:
            create_table_artifact(
                key=artifact_key(asset, check),
                table=rows,
                description=f"Baton check `{check}` of `{asset}`",
            )
        # No selected asset needs a materialization: success is exit 0 and step_end success.
        judged = _verdict(result, [])
        if self._cancelled.is_set():
            raise BatonStepError(asset, "the flow run was cancelled", retryable=False)
        if stopped:
            raise BatonStepTimeout(
                asset,
                f"check {check} timed out after {limit:g} s (the task's timeout_seconds);"
                " its Node step was stopped",
            )
        failed = failed_error_checks(events)
        if failed:
            where = f" [{partition_key}]" if partition_key is not None else ""
            raise BatonCheckFailed(
                asset,
                f"check {check} on {asset}{where} FAILED (severity error)",
            )
        if not judged.ok:
            raise _step_error(BatonStepError, asset, result, judged, environment)
        if not events:
            raise BatonStepError(
                asset, f"the check step reported no verdict for check {check}"
            )
        return {"asset": asset, "check": check, "checks": rows}

    def _run_bounded(
        self,
        command: str,
        args: list[str],
        asset: str,
        limit: float | None,
        environment: StepEnvironment,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> tuple[StepResult, bool]:
        """Run one asset's `baton-step COMMAND`, stopped after ``limit`` seconds or when the flow
        run is cancelled; returns the result and whether it was stopped."""
        stop = threading.Event()
        self._steps.add(stop)
        deadline = threading.Timer(limit, stop.set) if limit else None
        try:
            if self._cancelled.is_set():
                raise BatonStepError(
                    asset, "the flow run was cancelled", retryable=False
                )
            if deadline is not None:
                # Prefect's timeout cannot interrupt a worker thread blocked on Node's output
                # (prefect/task_engine.py warns so): this stops Node at the same limit.
                deadline.daemon = True
                deadline.start()
            on_event = _step_logger(logger, environment, asset)
            result = self._run_step(command, args, environment, logger, on_event, stop)
        finally:
            if deadline is not None:
                deadline.cancel()
            self._steps.discard(stop)
        return result, stop.is_set()

    def _run_step(
        self,
        command: str,
        args: list[str],
        environment: StepEnvironment,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
        on_event: Any = None,
        stop: threading.Event | None = None,
    ) -> StepResult:
        """Run `baton-step COMMAND` with the resources' environment; its own output lines go to
        the run logger (stderr as warnings), secrets redacted. Setting ``stop`` (or cancelling
        the flow run) stops Node. The step runs in a warm worker when one is free
        (``baton_core.worker``; BATON_WORKER=off: its own process), and the log says which."""

        def on_line(stream: str, line: str) -> None:
            logger.log(
                logging.WARNING if stream == "stderr" else logging.INFO,
                environment.redact(line),
            )

        def on_start(proc: StepProcess) -> None:
            # Once per step: the process to look at (or kill) when a step misbehaves.
            if isinstance(proc, WorkerProcess):
                how = "warm" if proc.warm else "started"
                logger.info("baton worker pid %d (%s)", proc.pid, how)
            else:
                logger.info("baton step pid %d (its own process)", proc.pid)

        return run_step(
            self.manifest.step_command(command, args),
            environment.env,
            on_event,
            on_line,
            cwd=self.manifest.folder,
            secrets=environment.secrets,
            cancel=stop or self._cancelled,
            on_start=on_start,
        )

    @contextmanager
    def _stop_steps_when_interrupted(self) -> Iterator[None]:
        """While the flow body waits for its tasks: if the wait is interrupted (Prefect raises
        TerminationSignal when the runner or worker SIGTERMs a cancelled run; KeyboardInterrupt),
        stop every Node step of the run (SIGTERM), start and retry nothing more, and let Prefect
        finish the cancellation. Prefect's own SIGTERM handler stays installed: it is how the
        runner's cancel intent is acknowledged."""
        try:
            yield
        except BaseException:
            self._cancelled.set()
            for stop in list(self._steps):
                stop.set()
            raise

    def evaluate_sensor(self, sensor: str, target: str) -> dict[str, Any]:
        """One tick of the TypeScript sensor, then one run per request (see sensors.py)."""
        from .sensors import evaluate_tick

        return evaluate_tick(self, sensor, target)

    def run_sensor(
        self, sensor: str, target: str, period_seconds: float = 0
    ) -> dict[str, Any]:
        """The body of the sensor flow: tick every ``minimumIntervalSeconds`` until the run's
        period ends (at least once), in this one flow run (see sensors.py)."""
        from .sensors import run_sensor

        return run_sensor(self, sensor, target, period_seconds)

    def keep_sensor_schedules(self, deployments: list[Any]) -> list[Any]:
        """The deployments, each sensor's schedule on or off as the user last set it in Prefect
        (off for a new one; see sensors.py): what ``serve`` should apply."""
        from .sensors import keep_sensor_schedules

        return keep_sensor_schedules(deployments)

    # -- helpers ---------------------------------------------------------------------------------

    def cursor_variable(self, sensor: str) -> str:
        """The Prefect Variable that keeps a sensor's cursor."""
        return f"{slug(self.flow_name)}-{slug(sensor)}-cursor".replace("-", "_")

    def environment(self, resource_keys: list[str]) -> StepEnvironment:
        environment = step_environment(self.manifest, resource_keys, self.resources)
        # The build's storage (an absolute path or a URL) is a default: a worker's own
        # BATON_STORAGE (already in the step's environment) wins.
        if self.storage and "BATON_STORAGE" not in environment.env:
            environment.env["BATON_STORAGE"] = self.storage
        credentials = (
            storage_credentials(self.storage_secret)
            if self.storage_secret is not None
            else StepEnvironment(env={})
        )
        return with_storage_credentials(environment, credentials)

    def asset_key(self, asset_id: str) -> str:
        """The Prefect asset key of a Baton asset: its folder in the store (see keys.py)."""
        return self._assets[asset_id].key

    def _prefect_asset(self, asset_id: str, storage: str | None) -> Asset:
        spec = self.manifest.asset(asset_id)
        description = (_task_description(spec) or "")[:2500] or None
        return Asset(
            key=asset_key(asset_id, spec["key"], storage),
            properties=AssetProperties(
                name=asset_id,
                description=description,
                owners=list(spec["owners"]) or None,
            ),
        )


Future = PrefectFuture[dict[str, Any]]


def task_runner(max_workers: int | None = None) -> ThreadPoolTaskRunner[Any]:
    """The materialize flow's task runner: at most DEFAULT_MAX_WORKERS Node steps at once
    (a backfill maps one task run per partition), unless
    PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS says otherwise (Prefect's own default is
    unbounded: prefect/task_runners.py)."""
    configured = get_current_settings().tasks.runner.thread_pool_max_workers
    return ThreadPoolTaskRunner(
        max_workers=max_workers or configured or DEFAULT_MAX_WORKERS
    )


def _skipped_artifact(skipped: Mapping[str, str]) -> None:
    """The assets a run left out, and why, as a table on the flow run's Artifacts tab."""
    create_table_artifact(
        key="baton-skipped-assets",
        table=[{"asset": a, "reason": r} for a, r in skipped.items()],
        description="Assets this run did not materialize: run them with a partition_key "
        "or partition_range_start/end",
    )


def _merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One asset's result from the results of its task runs (one per partition)."""
    first = results[0]
    return {
        "asset": first["asset"],
        "uri": first["uri"],
        "materializations": [m for r in results for m in r["materializations"]],
        "checks": [c for r in results for c in r["checks"]],
    }


def _task_description(spec: ManifestAsset) -> str | None:
    source = code_reference(spec)
    parts = [spec["description"], f"Defined in `{source}`." if source else None]
    return "\n\n".join(p for p in parts if p) or None


def _task_limit(spec: ManifestAsset) -> float | None:
    """A task run's limit: one partition key's timeoutSeconds plus the grace (contract §1)."""
    timeout = spec.get("timeoutSeconds")
    return timeout + TIMEOUT_GRACE_SECONDS if timeout else None


def _timed_out(result: StepResult) -> bool:
    """Whether core stopped the attempt at its timeoutSeconds (error code TIMEOUT)."""
    return any(
        f["error"].get("code") == "TIMEOUT" for f in result.of_type("asset_failure")
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _verdict(result: StepResult, selected: list[str]) -> Verdict:
    """baton_core's verdict; a TypeScript error keeps its own name and message (the task is
    named after the asset already)."""
    judged = result.verdict(selected)
    failures = result.of_type("asset_failure")
    if judged.ok or judged.cancelled or not failures:
        return judged
    error = failures[0]["error"]
    message = f"{error.get('name', 'Error')}: {error.get('message', '')}"
    return Verdict(False, judged.retryable, message, judged.missing)


def _stack(result: StepResult) -> str | None:
    failures = result.of_type("asset_failure")
    return failures[0]["error"].get("stack") if failures else None


def _step_error(
    error: type[BatonStepError],
    name: str,
    result: StepResult,
    judged: Verdict,
    environment: StepEnvironment,
) -> BatonStepError:
    """The failed step as ``error``: its message and TypeScript stack, both redacted."""
    stack = _stack(result)
    return error(
        name,
        environment.redact(judged.message),
        environment.redact(stack) if stack else None,
        retryable=judged.retryable,
    )


def _emit_materialized(asset: Asset, metadata: dict[str, Any]) -> None:
    """The materialization event of an output a failing task did commit: Prefect emits only
    `materialization.failed` for a failed task, which would hide that the data was written."""
    context = AssetContext.get()
    related = (
        [
            AssetContext.asset_as_related(a)
            for a in (context.upstream_assets | context.direct_asset_dependencies)
        ]
        if context
        else []
    )
    related.append(AssetContext.related_materialized_by("baton"))
    emit_event(
        event="prefect.asset.materialization.succeeded",
        resource=AssetContext.asset_as_resource(asset),
        related=related,
        payload=metadata,
    )


def _label(keys: list[str]) -> str:
    """How a task run name shows the partitions it runs."""
    if len(keys) == 1:
        return keys[0]
    return f"{keys[0]}...{keys[-1]}" if keys else "no partitions"


def _retryable(state: State[Any]) -> bool:
    """Prefect's retry condition: a deterministic Baton failure is never retried."""
    error = state.result(raise_on_failure=False)
    return getattr(error, "retryable", True) is not False


def _reference(event: Mapping[str, Any]) -> dict[str, Any]:
    """Where a materialization's output is: its file (path), or its table and snapshot."""
    meta = event["metadata"]
    return {
        "partition_key": event["partitionKey"],
        "path": meta["path"],
        "format": meta["format"],
        **table_metadata(event),
        "row_count": meta["rowCount"],
        "content_hash": meta["contentHash"],
        "duration_ms": meta["durationMs"],
    }


def _report_tables(
    asset: str,
    events: list[dict[str, Any]],
    environment: StepEnvironment,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> None:
    """Each table commit of the task run on its log and in the table artifact ``<asset>-table``
    (a failing step's commit too: the snapshot exists, the record names it)."""
    for event in events:
        line = commit_line(asset, event)
        if line is not None:
            logger.log(logging.INFO, environment.redact(line))
    rows = commit_rows(events)
    if rows:
        create_table_artifact(
            key=table_artifact_key(slug(asset)),
            table=environment.redact_all(rows),
            description=f"Baton table commits of `{asset}`",
        )


def _asset_metadata(
    events: list[dict[str, Any]], spec: ManifestAsset
) -> dict[str, Any]:
    """Materialization metadata for the Prefect asset event: the partition's own row count and
    data version, and what Prefect's AssetProperties cannot hold (group, tags, code reference)."""
    about = {
        "group": spec["group"],
        "tags": spec["tags"],
        "source": code_reference(spec),
    }
    entries = [
        {
            **_reference(e),
            "data_version": e["dataVersion"],
            "schema": [f"{c['name']}: {c['type']}" for c in e["metadata"]["schema"]],
            "code_version": e["metadata"]["codeVersion"],
            "user": e["metadata"]["user"],
        }
        for e in events
    ]
    if len(entries) == 1:
        return {**entries[0], **about}
    rows = [e["row_count"] for e in entries if e["row_count"] is not None]
    # One table for every partition of the asset: named once, each partition's snapshot below.
    tables = {e["table"] for e in entries if "table" in e}
    return {
        **about,
        **({"table": tables.pop()} if len(tables) == 1 else {}),
        "partition_keys": [e["partition_key"] for e in entries],
        "row_count": sum(rows) if rows else None,
        "partitions": entries,
    }


def _step_logger(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    environment: StepEnvironment,
    asset: str,
) -> Any:
    """The step's ``log`` events at their level and each check's verdict (a failure as a
    warning or an error, by severity) on the task run's logger, secrets masked."""

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "log":
            logger.log(log_level(event["level"]), environment.redact(event["message"]))
        elif event["type"] == "check":
            passed = (
                "passed"
                if event["passed"]
                else f"FAILED (severity {event['severity']})"
            )
            severity = "error" if event["severity"] == "error" else "warning"
            level = logging.INFO if event["passed"] else log_level(severity)
            where = f" [{event['partitionKey']}]" if event["partitionKey"] else ""
            logger.log(
                level, "check %s on %s%s %s", event["check"], asset, where, passed
            )

    return on_event


def _raise_problems(runs: list[tuple[str, list[tuple[str | None, Future]]]]) -> None:
    """Fail the flow run naming each task run that did not succeed, in submission order."""
    problems = []
    for what, fs in runs:
        for key, future in fs:
            state = future.state
            name = what if key is None else f"{what} [{key}]"
            if state.is_failed() or state.is_crashed():
                problems.append(f"{name} failed: {state.message or state.name}")
            elif not state.is_completed():
                problems.append(f"{name} did not run (an upstream asset failed)")
    if problems:
        raise BatonRunError(
            f"{len(problems)} of {sum(len(fs) for _, fs in runs)} task runs"
            " did not succeed: " + "; ".join(problems)
        )
