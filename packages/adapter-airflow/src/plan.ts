import type { Manifest, ManifestAsset } from "@baton/core";
import type { TargetPlan } from "@baton/core/build";
import { assetUri, assetsDagId, airflowId, checkTaskId, scheduleDagId, sensorDagId } from "./ids.js";
import type { AirflowOptions } from "./options.js";

function partitionsText(p: ManifestAsset["partitions"]): string | null {
  if (p === null) return null;
  const where = "the key comes from the run's conf (partition_key, or partition_range FIRST...LAST in one run), else from the run's own Airflow partition_key (baton_assets is PartitionedAtRuntime) or, in a schedule DAG, from its data interval";
  if (p.type === "static") return `static (${p.keys.length} keys: ${p.keys.slice(0, 5).join(", ")}${p.keys.length > 5 ? ", …" : ""}); ${where}`;
  return `${p.grain} from ${p.start}${p.end ? ` to ${p.end}` : ""} (${p.timezone}, keys ${p.format}); ${where}`;
}

/** What baton_airflow.build_dags makes of the manifest, in words (`baton airflow plan`). */
export function airflowPlan(manifest: Manifest, options: AirflowOptions): TargetPlan {
  const prefix = options.dagIdPrefix;
  const all = assetsDagId(prefix);
  const scheduleDags = manifest.schedules.map((s) => ({ s, dagId: scheduleDagId(prefix, s.name) }));
  const mapping = options.resources;
  const assets = manifest.assets.map((a) => {
    const task = airflowId(a.id);
    const dags = [all, ...scheduleDags.filter(({ s }) => s.assets.includes(a.id)).map(({ dagId }) => dagId)];
    const retry = a.retry ? `, retries ${a.retry.maxRetries} every ${a.retry.delaySeconds} s${a.retry.backoff === "exponential" ? " (retry_exponential_backoff=2.0)" : ""}` : "";
    const timeout = a.timeoutSeconds ? `, execution_timeout ${a.timeoutSeconds + 10} s per partition key (timeoutSeconds + 10 s; core's own limit fires first)` : "";
    const pool = a.pool ? `, pool ${a.pool}` : "";
    return {
      id: a.id,
      becomes: [
        ...dags.map((d) => `task ${task} (BatonAssetOperator${retry}${timeout}${pool}) in TaskGroup ${a.group} of DAG ${d}; its docs: the description, owners, tags${a.source ? `, defined in ${a.source.file}${a.source.line ? `:${a.source.line}` : ""}` : ""}`),
        `Airflow Asset name "${a.id}", uri ${assetUri(a.id)}, group ${a.group}, extra with the description, owners, tags, metadata and code reference: the task's outlet (one partitioned asset event per materialized partition, for PartitionedAssetTimetable consumers)`,
        ...(a.table
          ? [
              `stored in Iceberg table ${a.table.name} (catalog resource ${a.table.catalog}, ${a.table.mode}${a.table.partitionColumn ? `, partition column ${a.table.partitionColumn}` : ""}): each asset event's extra has table and snapshot_id (the snapshot its record pins)`,
            ]
          : []),
        ...a.checks
          .filter((c) => c.standalone)
          .map(
            (c) =>
              `standalone check ${c.name} (${c.severity}) → task ${checkTaskId(a.id, c.name)} (BatonCheckOperator, baton-step check) after ${[a.id, ...(c.deps ?? []).map((d) => d.id)].join(", ")} in every DAG holding ${a.id}; inlets, no outlets; ${c.severity === "error" ? "a failure fails the task and the run" : "a failure is a warning"}; alone: trigger the DAG with conf checks ["${a.id}:${c.name}"], or clear the task instance`,
          ),
        ...(a.checks.some((c) => !c.standalone)
          ? [`inline checks ${a.checks.filter((c) => !c.standalone).map((c) => c.name).join(", ")}: inside the asset's task; alone (conf checks ["${a.id}:<check>"]) in the DAG's inline_checks task`]
          : []),
        ...a.resources.map((r) => {
          const m = mapping[r];
          const from = m === undefined ? "the worker's environment" : "connection" in m ? `Airflow Connection ${m.connection}` : `Airflow Variable ${m.variable}`;
          return `resource ${r} from ${from}`;
        }),
      ],
      partitions: partitionsText(a.partitions),
    };
  });
  const edges = manifest.assets.flatMap((a) =>
    a.deps.map((d) => ({ from: d.id, to: a.id, via: `task dependency ${airflowId(d.id)} >> ${airflowId(a.id)} in every DAG holding both; inlet Asset ${assetUri(d.id)}; else read from the IO store` })),
  );
  const schedules = scheduleDags.map(({ s, dagId }) => ({
    name: s.name,
    becomes:
      `DAG ${dagId} on BatonCronTimetable("${s.cron}", "${s.timezone}") (Airflow's CronDataIntervalTimetable, described with its timezone), catchup=False, over ${s.assets.length} asset(s)` +
      (s.partitions?.type === "time" ? `; start_date = the first partition (${s.partitions.start}), so backfills reach every partition` : "") +
      "; each run takes its partition from the data interval's end",
  }));
  const sensors = manifest.sensors.map((s) => ({
    name: s.name,
    becomes: `DAG ${sensorDagId(prefix, s.name)} (@continuous, max_active_runs=1, max_consecutive_failed_dag_runs=3): task evaluate, a reschedule-mode sensor poking every ${s.minimumIntervalSeconds} s, retried 3 times (cursor in Variable baton_sensor_cursor__${airflowId(s.name)}; its log in the task log); task trigger starts ${all} once per run request (run id from the run key)`,
  }));
  const unsupported = [
    ...manifest.assets
      .filter((a) => a.retry?.backoff === "exponential")
      .map((a) => ({ definition: `asset ${a.id} retry backoff`, reason: "Airflow's retry_exponential_backoff formula (with jitter) replaces Baton's exact doubling" })),
  ];
  return { target: "airflow", assets, edges, schedules, sensors, unsupported };
}
