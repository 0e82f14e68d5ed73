import { fileURLToPath } from "node:url";
import { shippedWheel, type BatonAdapter } from "@baton/core/build";
import { POOLS_FILE, airflowFiles } from "./emit.js";
import { assetsDagId, dagIdsFor } from "./ids.js";
import { mappingProblems, resolveAirflowOptions, type AirflowOptions } from "./options.js";
import { airflowPlan } from "./plan.js";
import { translationProblems } from "./problems.js";

/** The exact pins written to OUT/requirements.txt (the same as python/requirements-test.txt, a test checks). */
export const AIRFLOW_REQUIREMENTS = ["apache-airflow==3.3.2", "apache-airflow-providers-standard==1.21.0"] as const;

/** The baton_airflow wheel this package ships (built by `pnpm --filter @baton/adapter-airflow build`). */
export function airflowPythonWheel(): string {
  return shippedWheel(fileURLToPath(new URL("../python/dist/", import.meta.url)), "baton_airflow", "@baton/adapter-airflow");
}

export const adapter: BatonAdapter<AirflowOptions> = {
  name: "airflow",
  title: "Apache Airflow",
  supports: {
    timePartitions: "partition keys travel in the run's conf or a schedule DAG's data interval, not Airflow-native partitioned runs",
    staticPartitions: "partition keys travel in the run's conf",
    partitionRanges: "one DAG run over the range (conf partition_range FIRST...LAST)",
    schedules: true,
    sensors: "a continuous DAG with a reschedule-mode sensor that triggers the assets DAG (retried; paused after repeated failed runs)",
    checks: "logged per check; a failed error check fails the task; a standalone check is a task of its own; conf checks runs chosen checks alone",
    retries: "Airflow's retry_exponential_backoff=2.0 (doubling, with Airflow's jitter), not Baton's exact doubling",
    resources: "from Airflow Connections or Variables (option resources); unmapped ones read the worker's environment",
  },
  options: {
    resources: {
      type: "string",
      jsonFile: true,
      description:
        'JSON file: { "<resource>": { "connection": "<conn id>", "fields": { "<field>": "host|login|password|schema|port|uri|conn_type|extra.<key>" } } | { "variable": "<JSON Variable key>" } }',
    },
    "dag-id-prefix": { type: "string", description: 'DAG ids start with this (default "baton")' },
    "storage-connection": {
      type: "string",
      description: "Airflow AWS connection id with the S3 store's credentials (login, password, extra.endpoint_url, extra.region_name, extra.aws_session_token); default: the worker's environment",
    },
  },
  runtime: { stepPackage: "@baton/core", stepBin: "dist/step/bin.js" },
  python: () => ({ wheels: [airflowPythonWheel()], requirements: [...AIRFLOW_REQUIREMENTS] }),
  resolveOptions: resolveAirflowOptions,
  problems: (manifest, options) => [...translationProblems(manifest, options.dagIdPrefix), ...mappingProblems(options.resources, manifest.resources)],
  emit: (input) => airflowFiles(input.manifest),
  plan: airflowPlan,
  nextSteps(out, input) {
    const dags = dagIdsFor(input.manifest, input.options.dagIdPrefix);
    const connection = input.options.storageConnection;
    const pools = input.manifest.pools ?? [];
    return [
      `DAG bundle ${out} → DAGs ${dags.join(", ")}`,
      `install into the Airflow environment or image: pip install -r ${out}/requirements.txt (Node ≥ 20 on every worker)`,
      ...(connection
        ? [`create the Airflow AWS connection ${connection} for the store (login = access key id, password = secret access key, extra region_name / endpoint_url)${/^\w+$/.test(connection) ? `, e.g. AIRFLOW_CONN_${connection.toUpperCase()} on the workers` : ""}`]
        : []),
      ...(pools.length > 0
        ? [`create the pools ${pools.map((p) => `${p.name} (${p.limit} slot${p.limit === 1 ? "" : "s"})`).join(", ")}: airflow pools import ${out}/${POOLS_FILE} (a task in a pool Airflow does not know never starts)`]
        : []),
      `try it: export AIRFLOW__CORE__DAGS_FOLDER=${out}; airflow db migrate && airflow dags reserialize && airflow dags test ${assetsDagId(input.options.dagIdPrefix)}`,
    ];
  },
};
