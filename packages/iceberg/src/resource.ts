import { env, resource, secret } from "@baton/core";
import { IcebergCatalogClient } from "./client.js";

/**
 * Ready-made resource: an `IcebergCatalogClient` configured from the environment, which every
 * orchestrator can fill from its own secret store. The keys are secrets: never in the manifest,
 * logs or events. `ICEBERG_S3_ENDPOINT` is for S3-compatible servers; "aws" (the default) means AWS S3.
 */
export const icebergCatalog = resource({
  description: "Iceberg REST catalog (CatalogClient) through DuckDB's iceberg extension",
  config: {
    uri: env("ICEBERG_REST_URI", { description: "the REST catalog's base URI, e.g. http://127.0.0.1:8181" }),
    warehouse: env("ICEBERG_WAREHOUSE", { description: "the catalog's warehouse, e.g. s3://bucket/ or a warehouse name" }),
    s3Endpoint: env("ICEBERG_S3_ENDPOINT", { default: "aws", description: "an S3-compatible endpoint (http://host:port), or aws" }),
    s3Region: env("ICEBERG_S3_REGION", { default: "us-east-1", description: "the S3 region" }),
    accessKeyId: secret("ICEBERG_S3_ACCESS_KEY_ID", { description: "S3 access key id for the table files" }),
    secretAccessKey: secret("ICEBERG_S3_SECRET_ACCESS_KEY", { description: "S3 secret access key for the table files" }),
  },
  create: (c) =>
    IcebergCatalogClient.open({
      uri: c.uri,
      warehouse: c.warehouse,
      // an unreachable catalog then fails the step's read or write, which names the asset and table
      attach: "first-use",
      s3: {
        ...(c.s3Endpoint !== "aws" ? { endpoint: c.s3Endpoint } : {}),
        region: c.s3Region,
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
      },
    }),
  teardown: (client) => client.close(),
});
