/**
 * How the S3 channels reach the bucket, read from the environment with the conventions of core's
 * S3 store (packages/core/STORAGE-CONTRACT.md): credentials from the AWS SDK's default chain, the
 * region from `AWS_REGION` / `AWS_DEFAULT_REGION` (default `us-east-1`), the endpoint of a
 * compatible server from `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, path-style addressing from
 * `BATON_S3_PATH_STYLE` (default: on when an endpoint is set).
 */
import { DagsterPipesError } from "./errors.js";

/** The `@aws-sdk/client-s3` releases this package is tested with (its optional peer range). */
export const AWS_SDK_S3_RANGE = ">=3.1100.0 <=3.1175.0";

/** Seconds between chunk uploads when `BATON_PIPES_S3_INTERVAL` is unset (dagster-pipes' default). */
export const DEFAULT_S3_UPLOAD_INTERVAL = 10;
/** Environment variable that overrides the upload interval of the S3 message writer (seconds). */
export const S3_INTERVAL_ENV_VAR = "BATON_PIPES_S3_INTERVAL";

export interface PipesS3ClientConfig {
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = (value: string | undefined): string | undefined => (value && value.trim() !== "" ? value.trim() : undefined);

/** The `S3Client` options for `env` (credentials are left to the SDK's default chain). */
export function s3ClientConfig(env: Env): PipesS3ClientConfig {
  const region = nonEmpty(env["AWS_REGION"]) ?? nonEmpty(env["AWS_DEFAULT_REGION"]) ?? "us-east-1";
  const endpoint = nonEmpty(env["AWS_ENDPOINT_URL_S3"]) ?? nonEmpty(env["AWS_ENDPOINT_URL"]);
  const pathStyle = nonEmpty(env["BATON_S3_PATH_STYLE"])?.toLowerCase();
  if (pathStyle !== undefined && pathStyle !== "true" && pathStyle !== "false") {
    throw new DagsterPipesError(`BATON_S3_PATH_STYLE must be "true" or "false", got "${pathStyle}".`);
  }
  const forcePathStyle = pathStyle === undefined ? endpoint !== undefined : pathStyle === "true";
  return endpoint === undefined ? { region, forcePathStyle } : { region, endpoint, forcePathStyle };
}

/** The upload interval in seconds: `BATON_PIPES_S3_INTERVAL` if set, else 10. */
export function s3UploadInterval(env: Env): number {
  const raw = nonEmpty(env[S3_INTERVAL_ENV_VAR]);
  if (raw === undefined) return DEFAULT_S3_UPLOAD_INTERVAL;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new DagsterPipesError(`${S3_INTERVAL_ENV_VAR} must be a positive number of seconds, got "${raw}".`);
  }
  return seconds;
}

/** The message for a missing SDK (an optional peer dependency; 3.1175.0 is what CI runs). */
export function missingSdkMessage(cause: unknown): string {
  const first = (cause instanceof Error ? cause.message : String(cause)).split("\n")[0];
  return (
    "The Dagster Pipes S3 channel needs the AWS SDK for JavaScript, which is not installed where " +
    `@baton/adapter-dagster can import it (${first}): pnpm add @aws-sdk/client-s3@3.1175.0 ` +
    `(supported: ${AWS_SDK_S3_RANGE}), then rebuild; a build copies it into its runtime`
  );
}
