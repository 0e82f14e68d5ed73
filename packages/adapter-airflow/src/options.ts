import { BatonError } from "@baton/core";
import { DEFAULT_DAG_ID_PREFIX } from "./ids.js";

/** Where one Baton resource's config comes from in Airflow (resolved at run time, inside the task). */
export type AirflowResourceSource =
  | {
      /** Airflow Connection id. */
      readonly connection: string;
      /** Config field → connection field: host, login, password, schema, port, uri, conn_type or extra.<key>. Default: extra.<field>. */
      readonly fields?: Readonly<Record<string, string>>;
    }
  | {
      /** Airflow Variable key holding a JSON object. */
      readonly variable: string;
      /** Config field → key in the Variable's JSON object. Default: the field name. */
      readonly fields?: Readonly<Record<string, string>>;
    };

export type AirflowResourceMapping = Readonly<Record<string, AirflowResourceSource>>;

/** The adapter's resolved options, as core writes them into baton/build.json ("options"). */
export interface AirflowOptions {
  /** DAG ids start with this; default "baton". */
  readonly dagIdPrefix: string;
  /** Baton resource -> Airflow Connection or Variable; names only, never secret values. */
  readonly resources: AirflowResourceMapping;
  /**
   * Airflow AWS Connection (conn_type aws) holding the S3 store's credentials, resolved inside each
   * task into the Node step's AWS_* variables; null: the worker's own environment decides.
   */
  readonly storageConnection: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Check the raw option values (a flag over package.json `"baton": { "airflow": { … } }`; the
 * --resources file arrives parsed). Accepts the flag's kebab-case and package.json's camelCase.
 */
export function resolveAirflowOptions(raw: Readonly<Record<string, unknown>>): AirflowOptions {
  const prefix = raw["dag-id-prefix"] ?? raw.dagIdPrefix ?? DEFAULT_DAG_ID_PREFIX;
  if (typeof prefix !== "string" || prefix === "") {
    throw new BatonError("CONFIG", `option dag-id-prefix must be a non-empty string, not ${JSON.stringify(prefix)}`, { hint: 'e.g. --dag-id-prefix shop or "dagIdPrefix": "shop"' });
  }
  const resources = raw.resources ?? {};
  if (!isObject(resources) || !Object.values(resources).every(isObject)) {
    throw new BatonError("CONFIG", "option resources must be a JSON object of { <resource>: { connection | variable, fields } }", {
      hint: 'e.g. { "warehouse": { "connection": "warehouse", "fields": { "password": "password" } } }',
    });
  }
  const sorted = Object.fromEntries(Object.keys(resources).sort().map((k) => [k, resources[k]])) as unknown as AirflowResourceMapping;
  const connection = raw["storage-connection"] ?? raw.storageConnection ?? null;
  if (connection !== null && (typeof connection !== "string" || !/^[A-Za-z0-9_.-]+$/.test(connection))) {
    throw new BatonError("CONFIG", `option storage-connection must be an Airflow connection id, not ${JSON.stringify(connection)}`, {
      hint: 'e.g. --storage-connection baton_storage or "storageConnection": "baton_storage" (an AWS connection: login = access key id, password = secret key)',
    });
  }
  return { dagIdPrefix: prefix, resources: sorted, storageConnection: connection };
}

const CONNECTION_FIELDS = new Set(["host", "login", "password", "schema", "port", "uri", "conn_type"]);

/** Problems with a mapping against the manifest's resources, as sentences naming the resource. */
export function mappingProblems(mapping: AirflowResourceMapping, resources: readonly { key: string; config: readonly { field: string }[] }[]): string[] {
  const problems: string[] = [];
  const byKey = new Map(resources.map((r) => [r.key, r]));
  for (const [key, source] of Object.entries(mapping)) {
    const resource = byKey.get(key);
    if (!resource) {
      problems.push(`resources.${key}: there is no Baton resource "${key}" (known: ${[...byKey.keys()].join(", ") || "none"})`);
      continue;
    }
    const isConnection = "connection" in source;
    const target = isConnection ? source.connection : (source as { variable?: unknown }).variable;
    if (typeof target !== "string" || target === "") {
      problems.push(`resources.${key}: give { connection: "<conn id>" } or { variable: "<variable key>" }`);
      continue;
    }
    const fields = new Set(resource.config.map((c) => c.field));
    for (const [field, from] of Object.entries(source.fields ?? {})) {
      if (!fields.has(field)) problems.push(`resources.${key}.fields.${field}: resource "${key}" has no config field "${field}" (it has ${[...fields].join(", ")})`);
      // An extra key may hold dots: pyiceberg's catalog properties (s3.endpoint) are such keys.
      if (isConnection && !CONNECTION_FIELDS.has(from) && !/^extra\..+$/.test(from)) {
        problems.push(`resources.${key}.fields.${field}: "${from}" is not a connection field; use ${[...CONNECTION_FIELDS].join(", ")} or extra.<key>`);
      }
    }
  }
  return problems;
}
