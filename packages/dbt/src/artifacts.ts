/**
 * The parts of dbt's artifacts this package reads: manifest.json (schema v12) and run_results.json
 * (v6), as dbt-core 1.11 writes them. Fields dbt may leave out are optional.
 */

export interface DbtDependsOn {
  readonly nodes?: readonly string[];
}

export interface DbtColumn {
  readonly name: string;
  readonly description?: string;
  readonly data_type?: string | null;
}

export interface DbtNodeConfig {
  readonly materialized?: string;
  readonly severity?: string;
  readonly schema?: string | null;
  readonly group?: string | null;
  readonly location?: string;
  readonly format?: string;
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly tags?: readonly string[] | string;
  readonly [k: string]: unknown;
}

export interface DbtManifestNode {
  readonly unique_id: string;
  readonly resource_type: string;
  readonly name: string;
  readonly package_name: string;
  readonly original_file_path: string;
  readonly fqn: readonly string[];
  readonly database?: string | null;
  readonly schema?: string;
  readonly alias?: string;
  readonly relation_name?: string | null;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly config: DbtNodeConfig;
  readonly checksum?: { readonly name: string; readonly checksum: string };
  readonly depends_on?: DbtDependsOn;
  readonly columns?: Readonly<Record<string, DbtColumn>>;
  readonly group?: string | null;
  readonly version?: string | number | null;
  /** Generic tests: the node the test is defined on. */
  readonly attached_node?: string | null;
  readonly column_name?: string | null;
  readonly test_metadata?: { readonly name: string; readonly namespace?: string | null } | null;
}

export interface DbtManifestSource {
  readonly unique_id: string;
  readonly source_name: string;
  readonly name: string;
  readonly relation_name?: string | null;
  readonly original_file_path: string;
  readonly description?: string;
}

export interface DbtManifest {
  readonly metadata: {
    readonly dbt_schema_version: string;
    readonly dbt_version: string;
    readonly generated_at?: string;
    readonly invocation_id?: string;
    readonly project_name?: string;
    readonly adapter_type?: string;
  };
  readonly nodes: Readonly<Record<string, DbtManifestNode>>;
  readonly sources: Readonly<Record<string, DbtManifestSource>>;
  readonly macros?: Readonly<Record<string, { readonly original_file_path: string }>>;
  readonly disabled?: Readonly<Record<string, readonly { readonly original_file_path: string }[]>>;
}

export interface DbtTiming {
  readonly name: string;
  readonly started_at?: string | null;
  readonly completed_at?: string | null;
}

export interface DbtRunResult {
  readonly unique_id: string;
  /** Models, seeds, snapshots: success | error | skipped; tests: pass | warn | fail | error | skipped. */
  readonly status: string;
  readonly timing: readonly DbtTiming[];
  readonly execution_time: number;
  readonly message: string | null;
  readonly failures: number | null;
  readonly adapter_response?: Readonly<Record<string, unknown>>;
  readonly relation_name?: string | null;
}

export interface DbtRunResults {
  readonly metadata: { readonly dbt_schema_version: string; readonly dbt_version: string; readonly invocation_id?: string; readonly generated_at?: string };
  readonly results: readonly DbtRunResult[];
  readonly elapsed_time: number;
}
