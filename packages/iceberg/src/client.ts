import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { toArrow, toPolars, type CatalogClient, type TableCommit, type TableRead, type TableSink, type TableWrite } from "@baton/core";
import type { Schema, Table } from "apache-arrow";
import pl from "nodejs-polars";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkPartitionRows, namingAsset, tableLocation, textEquals } from "./asset-table.js";
import { IcebergError } from "./errors.js";
import { DUCKDB_ENGINE_VERSION, EXTENSIONS, ensureExtensions, extensionFile } from "./extensions.js";
import { ident, literal, normalType, sqlTypeOf, type Scalar } from "./sql.js";

export interface IcebergS3Config {
  /** `http://host:port` or `https://host` of an S3-compatible server; unset: AWS S3. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default: true with a custom endpoint, false on AWS. */
  readonly pathStyle?: boolean;
}

export interface IcebergCatalogConfig {
  /** The REST catalog's base URI (`http://127.0.0.1:8181`), without `/v1`. */
  readonly uri: string;
  /** The catalog's warehouse (`s3://bucket/` or a warehouse name the catalog knows). */
  readonly warehouse: string;
  readonly s3?: IcebergS3Config;
  /** A folder holding the iceberg/avro/httpfs extension wheels' contents; default: installed on first use (extensions.ts). */
  readonly extensionDirectory?: string;
  /** Tests only: runs inside the write transaction, after the data is staged and before COMMIT. */
  /**
   * When to attach the catalog (which checks it answers): "open" (default) in `open()`; "first-use" at the first
   * operation, so that an unreachable catalog fails that operation, naming its table (the resource does this).
   */
  readonly attach?: "open" | "first-use";
  readonly beforeCommit?: (info: { readonly table: string; readonly operation: WriteOperation }) => Promise<void>;
}

type WriteOperation = "append" | "replacePartition" | "replaceTable";

/** `{ column: value }` (equality) or `{ column: [v1, v2] }` (IN), all ANDed; `{ sql }` is a raw DuckDB predicate. */
export type ScanFilter = Readonly<Record<string, Scalar | readonly Scalar[]>> | { readonly sql: string };

export interface ScanOptions {
  /** Columns to read (default all), in this order. */
  readonly columns?: readonly string[];
  readonly filter?: ScanFilter;
  /** Read the table as of this snapshot (a string: 64-bit ids do not fit a JS number). */
  readonly snapshotId?: string;
}

export interface CreateTableOptions {
  /** An identity partition on this column (e.g. the day of a daily asset). */
  readonly partitionColumn?: string;
}

export interface SnapshotInfo {
  readonly snapshotId: string;
  readonly sequenceNumber: number;
  readonly operation: string;
  readonly timestamp: string;
}

/** A column of the table, as DuckDB's iceberg extension types it. */
export interface TableColumn {
  readonly name: string;
  readonly type: string;
}

const ATTACHED = "baton_iceberg";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Splits "namespace.table"; DuckDB addresses an Iceberg table as catalog.schema.table, one namespace level. */
function parseName(name: string): { namespace: string; table: string } {
  const parts = name.split(".");
  if (parts.length !== 2 || parts.some((p) => p === "")) {
    throw new IcebergError("UNKNOWN_TABLE", `"${name}" is not a table name of the form namespace.table`, {
      table: name,
      hint: `name the table as "<namespace>.<table>" (e.g. "analytics.customer_metrics"); nested namespaces are not supported yet`,
    });
  }
  return { namespace: parts[0]!, table: parts[1]! };
}

/**
 * The seed's `CatalogClient` on an Iceberg REST catalog, through DuckDB's iceberg extension. Every
 * write is one Iceberg commit (one DuckDB transaction, one REST `transactions/commit`): readers see
 * the table before it or after it, never between; a failure rolls the whole transaction back.
 * Snapshot ids are strings throughout. As core's `TableSink` it stores asset outputs (`io: { format: "iceberg" }`).
 */
export class IcebergCatalogClient implements CatalogClient, TableSink {
  readonly tableFormat = "iceberg" as const;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly scratch = mkdtempSync(join(tmpdir(), "baton-iceberg-"));
  private readonly locations = new Map<string, string>();
  private attached = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly config: IcebergCatalogConfig,
  ) {}

  /** Loads the extensions, registers the S3 credentials and (unless `attach: "first-use"`) attaches the catalog. */
  static async open(config: IcebergCatalogConfig): Promise<IcebergCatalogClient> {
    const extensions = config.extensionDirectory ?? ensureExtensions();
    // Loaded here, not at import: every definitions module that declares the resource would pay for the engine.
    const { DuckDBInstance } = await import("@duckdb/node-api");
    // DuckDB would otherwise try its own extension download, which is not reachable everywhere.
    const instance = await DuckDBInstance.create(":memory:", { autoinstall_known_extensions: "false", autoload_known_extensions: "false" });
    const connection = await instance.connect();
    const client = new IcebergCatalogClient(instance, connection, config);
    try {
      const version = (await connection.runAndReadAll("SELECT version() AS v")).getRowObjectsJson()[0]?.v;
      if (version !== DUCKDB_ENGINE_VERSION) {
        throw new IcebergError("ENGINE", `@duckdb/node-api runs DuckDB ${String(version)}, but the extensions are built for ${DUCKDB_ENGINE_VERSION}`, {
          hint: `install @duckdb/node-api 1.5.5-r.5 (the version @baton/iceberg pins): an extension loads only into the exact engine version`,
        });
      }
      for (const name of EXTENSIONS) await connection.run(`LOAD '${extensionFile(extensions, name).replace(/'/g, "''")}'`);
      await connection.run(client.secretSql());
      if (config.attach !== "first-use") await client.attachOnce();
    } catch (e) {
      client.closeNow();
      if (e instanceof IcebergError) throw e;
      throw client.classify(e, undefined, "attach");
    }
    return client;
  }

  private async attachOnce(): Promise<void> {
    if (this.attached) return;
    try {
      await this.attach();
    } catch (e) {
      throw this.classify(e, undefined, "attach");
    }
    this.attached = true;
  }

  // READ_ONLY false: DuckDB attaches a remote (s3://) path read-only unless told otherwise.
  private async attach(): Promise<void> {
    const endpoint = literal(this.config.uri.replace(/\/+$/, ""));
    await this.connection.run(`ATTACH ${literal(this.config.warehouse)} AS ${ATTACHED} (TYPE iceberg, ENDPOINT ${endpoint}, AUTHORIZATION_TYPE 'none', READ_ONLY false)`);
  }

  /**
   * The iceberg extension (1.5.5) remembers, per attach, that a namespace was missing: a namespace
   * created since (by this client or another) stays invisible until the catalog is attached again.
   */
  private async reattach(): Promise<void> {
    await this.connection.run(`DETACH ${ATTACHED}`);
    await this.attach();
  }

  private secretSql(): string {
    const s3 = this.config.s3 ?? {};
    const parts = [`TYPE s3`, `REGION ${literal(s3.region ?? "us-east-1")}`];
    if (s3.accessKeyId) parts.push(`KEY_ID ${literal(s3.accessKeyId)}`);
    if (s3.secretAccessKey) parts.push(`SECRET ${literal(s3.secretAccessKey)}`);
    if (s3.sessionToken) parts.push(`SESSION_TOKEN ${literal(s3.sessionToken)}`);
    if (s3.endpoint) {
      const url = new URL(s3.endpoint.includes("://") ? s3.endpoint : `https://${s3.endpoint}`);
      parts.push(`ENDPOINT ${literal(url.host)}`, `USE_SSL ${url.protocol === "https:" ? "true" : "false"}`);
    }
    parts.push(`URL_STYLE ${(s3.pathStyle ?? s3.endpoint !== undefined) ? "'path'" : "'vhost'"}`);
    return `CREATE OR REPLACE SECRET baton_iceberg_s3 (${parts.join(", ")})`;
  }

  /** One operation at a time on the one connection: a write's BEGIN…COMMIT must not interleave with another. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = async () => {
      await this.attachOnce();
      return work();
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private ref(name: string): string {
    const { namespace, table } = parseName(name);
    return `${ATTACHED}.${ident(namespace)}.${ident(table)}`;
  }

  private async rows(sql: string): Promise<Record<string, unknown>[]> {
    return (await this.connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  }

  /** A DuckDB failure as the IcebergError that says what happened to which table. */
  private classify(e: unknown, table: string | undefined, doing: string): IcebergError {
    const text = message(e);
    const where = table !== undefined ? { table } : {};
    if (/Conflict_409|CommitFailedException|branch main has changed/i.test(text)) {
      return new IcebergError("COMMIT_CONFLICT", `another writer committed first while this ${doing} was committing; nothing of it was committed (${text.split("\n")[0]})`, {
        ...where,
        hint: "run the step again: the retry starts from the table's new state",
        cause: e,
      });
    }
    if (/Could not connect|Connection refused|Failed to connect|Couldn't connect|Timeout was reached|HTTP GET to .*\/v1\/config/i.test(text)) {
      return new IcebergError("CATALOG_UNREACHABLE", `the Iceberg REST catalog at ${this.config.uri} did not answer (${doing}): ${text.split("\n")[0]}`, {
        ...where,
        hint: `check ICEBERG_REST_URI (${this.config.uri}) and that the catalog server runs and is reachable from this machine`,
        cause: e,
      });
    }
    if (table !== undefined && /Catalog Error: .*does not exist/i.test(text)) {
      return new IcebergError("UNKNOWN_TABLE", `no such table in the catalog at ${this.config.uri}`, {
        table,
        hint: `create it first (createTable("${table}", schema, { partitionColumn })), or check the namespace and table name`,
        cause: e,
      });
    }
    return new IcebergError("ENGINE", `${doing} failed: ${text}`, { ...where, hint: "see DuckDB's message above", cause: e });
  }

  private async guarded<T>(table: string | undefined, doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (e instanceof IcebergError) throw e;
      throw this.classify(e, table, doing);
    }
  }

  /** The table's columns (an UNKNOWN_TABLE error when it does not exist). */
  columns(name: string): Promise<TableColumn[]> {
    return this.serial(() => this.columnsNow(name));
  }

  private async columnsNow(name: string): Promise<TableColumn[]> {
    const describe = async () =>
      (await this.rows(`DESCRIBE ${this.ref(name)}`)).map((r) => ({ name: String(r.column_name), type: normalType(String(r.column_type)) }));
    return this.guarded(name, "reading the schema", async () => {
      try {
        return await describe();
      } catch (e) {
        if (!/because schema .* does not exist/.test(message(e))) throw e;
        await this.reattach(); // the namespace may have been created since this attach looked for it
        return await describe();
      }
    });
  }

  /** The table's snapshots, oldest first. */
  snapshots(name: string): Promise<SnapshotInfo[]> {
    return this.serial(() => this.snapshotsNow(name));
  }

  private async snapshotsNow(name: string): Promise<SnapshotInfo[]> {
    const ref = this.ref(name);
    return this.guarded(name, "listing snapshots", async () => {
      await this.columnsNow(name); // an unknown table is UNKNOWN_TABLE, not a metadata read error
      const rows = await this.rows(
        `SELECT snapshot_id::VARCHAR AS id, sequence_number AS seq, operation, timestamp_ms::VARCHAR AS ts FROM iceberg_snapshots(${ref}) ORDER BY sequence_number`,
      );
      return rows.map((r) => ({ snapshotId: String(r.id), sequenceNumber: Number(r.seq), operation: String(r.operation), timestamp: String(r.ts) }));
    });
  }

  /** The id of the table's current snapshot, or undefined for a table nothing was written to yet. */
  async currentSnapshotId(name: string): Promise<string | undefined> {
    return (await this.snapshots(name)).at(-1)?.snapshotId;
  }

  /**
   * Create `namespace.table` (and its namespace) with the columns of an Arrow schema or a polars schema,
   * optionally partitioned by identity on one column. Creating a table that exists with the same columns
   * is a no-op (a re-run); with other columns it is a SCHEMA_MISMATCH error.
   */
  createTable(name: string, schema: Schema | Readonly<Record<string, pl.DataType>>, options: CreateTableOptions = {}): Promise<Table> {
    return this.serial(async () => {
      await this.createTableNow(name, await columnsFromSchema(name, schema), options.partitionColumn);
      // the created (or existing) table, empty: its schema as the catalog stores it
      return toArrow(await this.scanNow(name, { filter: { sql: "FALSE" } }));
    });
  }

  private async createTableNow(name: string, wanted: readonly TableColumn[], partitionColumn: string | undefined): Promise<void> {
    if (partitionColumn !== undefined && !wanted.some((c) => c.name === partitionColumn)) {
      throw new IcebergError("SCHEMA_MISMATCH", `partition column "${partitionColumn}" is not among the columns ${wanted.map((c) => c.name).join(", ")}`, {
        table: name,
        hint: "name one of the schema's columns as partitionColumn",
      });
    }
    const { namespace } = parseName(name);
    const ref = this.ref(name);
    await this.guarded(name, "creating the table", async () => {
      const existing = await this.existingColumns(name);
      if (existing !== undefined) {
        const problems = schemaProblems(existing, wanted);
        if (problems.length > 0 || existing.length !== wanted.length)
          throw new IcebergError("SCHEMA_MISMATCH", `exists with other columns (${describe(existing)}) than asked (${describe(wanted)})`, {
            table: name,
            hint: "drop the table or use another name; createTable does not evolve schemas",
          });
        return;
      }
      await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${ATTACHED}.${ident(namespace)}`);
      await this.reattach();
      await this.connection.run(`CREATE TABLE ${ref} (${wanted.map((c) => `${ident(c.name)} ${c.type}`).join(", ")})`);
      if (partitionColumn !== undefined) await this.connection.run(`ALTER TABLE ${ref} SET PARTITIONED BY (${ident(partitionColumn)})`);
    });
  }

  /** The table's columns, or undefined when it does not exist. */
  private async existingColumns(name: string): Promise<TableColumn[] | undefined> {
    return this.columnsNow(name).catch((e: unknown) => {
      if (e instanceof IcebergError && e.reason === "UNKNOWN_TABLE") return undefined;
      throw e;
    });
  }

  /** The whole table at its current snapshot, as Arrow (the seed's interface). */
  async loadTable(name: string): Promise<Table> {
    return toArrow(await this.scan(name));
  }

  /** Rows of the table (optionally some columns, a filter, a snapshot), as a polars frame (through a Parquet spool file). */
  scan(name: string, options: ScanOptions = {}): Promise<pl.DataFrame> {
    return this.serial(() => this.scanNow(name, options));
  }

  private async scanNow(name: string, options: ScanOptions): Promise<pl.DataFrame> {
    const ref = this.ref(name);
    const columns = await this.columnsNow(name);
    for (const c of options.columns ?? []) {
      if (!columns.some((t) => t.name === c))
        throw new IcebergError("SCHEMA_MISMATCH", `has no column "${c}" (columns: ${columns.map((t) => t.name).join(", ")})`, { table: name, hint: "scan only the table's columns" });
    }
    let at = "";
    if (options.snapshotId !== undefined) {
      const id = options.snapshotId;
      if (!/^-?\d+$/.test(id) || !(await this.snapshotsNow(name)).some((s) => s.snapshotId === id))
        throw new IcebergError("UNKNOWN_TABLE", `has no snapshot ${id}`, { table: name, hint: "pass a snapshot id the table has (snapshots(table) lists them), as a string" });
      at = ` AT (VERSION => ${id})`;
    }
    const select = options.columns?.length ? options.columns.map(ident).join(", ") : "*";
    const where = options.filter !== undefined ? ` WHERE ${filterSql(options.filter)}` : "";
    const spool = join(this.scratch, `scan-${randomUUID()}.parquet`);
    try {
      await this.guarded(name, "scanning", () => this.connection.run(`COPY (SELECT ${select} FROM ${ref}${at}${where}) TO ${literal(spool)} (FORMAT parquet)`));
      return pl.readParquet(spool);
    } finally {
      rmSync(spool, { force: true });
    }
  }

  /** Append the frame's rows in one commit; returns the new snapshot's id. */
  append(name: string, frame: pl.DataFrame): Promise<string> {
    return this.serial(() => this.write(name, "append", frame, undefined));
  }

  /**
   * Replace the rows whose `column` equals `value` with the frame's (every row of which must carry that
   * value) in one commit: a delete and an append in one transaction, so readers never see the partition
   * empty. Other partitions are untouched. Returns the id of the snapshot holding the new rows.
   */
  replacePartition(name: string, frame: pl.DataFrame, partition: { readonly column: string; readonly value: Scalar }): Promise<string> {
    return this.serial(async () => {
      if (frame.columns.includes(partition.column) && frame.height > 0) {
        const others = frame.filter(partition.value === null ? pl.col(partition.column).isNotNull() : pl.col(partition.column).neq(pl.lit(partition.value)).or(pl.col(partition.column).isNull())).height;
        if (others > 0)
          throw new IcebergError("SCHEMA_MISMATCH", `${others} of the ${frame.height} rows to replace partition ${partition.column}=${String(partition.value)} carry another ${partition.column}`, {
            table: name,
            hint: `filter the frame to ${partition.column} = ${String(partition.value)} before replacing that partition`,
          });
      }
      const predicate = partition.value === null ? `${ident(partition.column)} IS NULL` : `${ident(partition.column)} = ${literal(partition.value)}`;
      return this.write(name, "replacePartition", frame, predicate);
    });
  }

  /**
   * Core's TableSink write of an asset's output, one Iceberg commit: the table is created on the first write
   * (the output's columns, an identity partition on `partitionColumn`); a partition's replace deletes the rows whose
   * column (as text) is the partition key and appends the output; an unpartitioned replace overwrites the table; an
   * append appends. The output is checked (partition values, columns and types) before anything is created or staged.
   */
  writeAssetTable(write: TableWrite): Promise<TableCommit> {
    const { asset, table, frame, mode, partitionColumn, partitionValue } = write;
    return namingAsset(asset, table, () =>
      this.serial(async () => {
        const wanted = await frameColumns(table, frame);
        if (partitionColumn !== undefined) checkPartitionRows(asset, table, frame, partitionColumn, partitionValue);
        const existing = await this.existingColumns(table);
        if (existing === undefined) await this.createTableNow(table, wanted, partitionColumn);
        // An existing table's columns were just read: the write does not read them (a catalog round trip) again.
        const known = existing !== undefined ? { table: existing, frame: wanted } : undefined;
        const snapshotId =
          mode === "append"
            ? await this.write(table, "append", frame, undefined, known)
            : partitionColumn !== undefined && partitionValue !== undefined
              ? await this.write(table, "replacePartition", frame, textEquals(partitionColumn, partitionValue), known)
              : await this.write(table, "replaceTable", frame, "TRUE", known);
        return { snapshotId, location: await this.locationOf(table) };
      }),
    );
  }

  /** Core's TableSink read: the rows of the pinned snapshot (of one partition, when given). */
  readAssetTable(read: TableRead): Promise<pl.DataFrame> {
    const { asset, table, snapshotId, partitionColumn, partitionValue } = read;
    return namingAsset(asset, table, () =>
      this.serial(async () => {
        const filter = partitionColumn !== undefined && partitionValue !== undefined ? { sql: textEquals(partitionColumn, partitionValue) } : undefined;
        try {
          return await this.scanNow(table, { snapshotId, ...(filter !== undefined ? { filter } : {}) });
        } catch (e) {
          if (!(e instanceof IcebergError) || e.reason !== "UNKNOWN_TABLE") throw e;
          throw new IcebergError("UNKNOWN_TABLE", `cannot read snapshot ${snapshotId}, which the upstream's record pins: ${e.detail}`, {
            table,
            asset,
            hint: "the table, or that snapshot (expired?), is gone from the catalog, or ICEBERG_REST_URI names another catalog: materialize the upstream asset again",
            cause: e,
          });
        }
      }),
    );
  }

  /** Fetched once per table: the location of a table does not change. */
  private async locationOf(table: string): Promise<string | null> {
    const known = this.locations.get(table);
    if (known !== undefined) return known;
    const location = await tableLocation(this.config.uri, this.config.warehouse, table);
    if (location !== null) this.locations.set(table, location);
    return location;
  }

  /** `known`: the table's and the frame's columns when the caller has just read them. */
  private async write(
    name: string,
    operation: WriteOperation,
    frame: pl.DataFrame,
    deleteWhere: string | undefined,
    known?: { readonly table: readonly TableColumn[]; readonly frame: readonly TableColumn[] },
  ): Promise<string> {
    const ref = this.ref(name);
    const columns = known?.table ?? (await this.columnsNow(name));
    const problems = schemaProblems(columns, known?.frame ?? (await frameColumns(name, frame)));
    if (problems.length > 0) {
      throw new IcebergError("SCHEMA_MISMATCH", `the frame does not match the table's columns: ${problems.join("; ")}`, {
        table: name,
        hint: `make the frame's columns and types match the table (${describe(columns)}); nothing was written. A table keeps the columns it was created with: to change them, write to a new table`,
      });
    }
    const spool = join(this.scratch, `write-${randomUUID()}.parquet`);
    try {
      if (frame.height > 0) frame.writeParquet(spool);
      const doing = { append: "append", replacePartition: "partition replace", replaceTable: "table overwrite" }[operation];
      let before = 0;
      await this.guarded(name, doing, async () => {
        await this.connection.run("BEGIN TRANSACTION");
        try {
          before = Number((await this.rows(`SELECT coalesce(max(sequence_number), 0) AS s FROM iceberg_snapshots(${ref})`))[0]?.s ?? 0);
          if (deleteWhere !== undefined) await this.connection.run(`DELETE FROM ${ref} WHERE ${deleteWhere}`);
          if (frame.height > 0) {
            const casts = columns.map((c) => `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`).join(", ");
            await this.connection.run(`INSERT INTO ${ref} (${columns.map((c) => ident(c.name)).join(", ")}) SELECT ${casts} FROM read_parquet(${literal(spool)})`);
          }
          await this.config.beforeCommit?.({ table: name, operation });
          await this.connection.run("COMMIT");
        } catch (e) {
          // A failed COMMIT has already ended the transaction; ROLLBACK then only says so.
          await this.connection.run("ROLLBACK").catch(() => undefined);
          throw e;
        }
      });
      return await this.guarded(name, `reading the snapshot of the ${doing}`, async () => {
        // Ours are the first snapshots after the head we started from (sequence numbers grow along main);
        // a later writer's come after them. A replace makes a delete snapshot, then the one with the rows.
        const after = (await this.snapshotsNow(name)).filter((s) => s.sequenceNumber > before);
        const ours = frame.height > 0 ? after.find((s) => s.operation === "append") : after[0];
        const current = ours ?? (await this.snapshotsNow(name)).at(-1);
        if (current === undefined)
          throw new IcebergError("ENGINE", `the ${doing} of an empty frame made no snapshot, and the table has none yet to pin`, {
            table: name,
            hint: "the first write of a table must have at least one row (DuckDB commits no snapshot for zero rows); later writes may be empty",
            retryable: false,
          });
        return current.snapshotId;
      });
    } finally {
      rmSync(spool, { force: true });
    }
  }

  /** Detach and close the engine; the client is unusable afterwards. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.closeNow();
  }

  private closeNow(): void {
    try {
      this.connection.closeSync();
      this.instance.closeSync();
    } finally {
      rmSync(this.scratch, { recursive: true, force: true });
    }
  }
}

function describe(columns: readonly TableColumn[]): string {
  return columns.map((c) => `${c.name} ${c.type}`).join(", ");
}

/** What differs between the table's columns and the frame's, by name (order does not matter). */
export function schemaProblems(table: readonly TableColumn[], frame: readonly TableColumn[]): string[] {
  const problems: string[] = [];
  for (const c of table) {
    const f = frame.find((x) => x.name === c.name);
    if (f === undefined) problems.push(`column "${c.name}" (${c.type}) is missing`);
    else if (f.type !== c.type) problems.push(`column "${c.name}" is ${f.type}, the table has ${c.type}`);
  }
  for (const f of frame) if (!table.some((c) => c.name === f.name)) problems.push(`column "${f.name}" (${f.type}) is not in the table`);
  return problems;
}

async function frameColumns(table: string, frame: pl.DataFrame): Promise<TableColumn[]> {
  return columnsFromSchema(table, frame.schema);
}

async function columnsFromSchema(table: string, schema: Schema | Readonly<Record<string, pl.DataType>>): Promise<TableColumn[]> {
  const polarsSchema = isArrowSchema(schema) ? (await arrowSchemaAsPolars(schema)) : schema;
  return Object.entries(polarsSchema).map(([name, dtype]) => {
    const type = sqlTypeOf(dtype);
    if (type === undefined)
      throw new IcebergError("SCHEMA_MISMATCH", `column "${name}" has type ${String(dtype)}, which Baton cannot store in Iceberg yet`, {
        table,
        hint: "cast it to an integer, float, boolean, string, date, datetime, time or decimal column",
      });
    return { name, type };
  });
}

function isArrowSchema(x: unknown): x is Schema {
  return typeof x === "object" && x !== null && Array.isArray((x as Schema).fields) && (x as { constructor?: { name?: string } }).constructor?.name === "Schema";
}

async function arrowSchemaAsPolars(schema: Schema): Promise<Record<string, pl.DataType>> {
  const { Table: ArrowTable } = await import("apache-arrow");
  return (await toPolars(new ArrowTable(schema))).schema;
}


function filterSql(filter: ScanFilter): string {
  if ("sql" in filter && typeof filter.sql === "string") return `(${filter.sql})`;
  const terms = Object.entries(filter as Readonly<Record<string, Scalar | readonly Scalar[]>>).map(([column, value]) => {
    if (Array.isArray(value)) return value.length === 0 ? "FALSE" : `${ident(column)} IN (${(value as Scalar[]).map(literal).join(", ")})`;
    return value === null ? `${ident(column)} IS NULL` : `${ident(column)} = ${literal(value as Scalar)}`;
  });
  return terms.length === 0 ? "TRUE" : terms.join(" AND ");
}
