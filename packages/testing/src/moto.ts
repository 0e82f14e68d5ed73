import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./port.js";
import { ensurePythonEnv } from "./python-env.js";
import { startServerProcess } from "./server-process.js";

export interface MotoServer {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** The bucket created at start. */
  readonly bucket: string;
  /** The AWS variables a step needs to reach this server (fake credentials, path-style endpoint). */
  readonly env: Readonly<Record<string, string>>;
  /** `s3://<bucket>/<prefix>`: a store URL for BATON_STORAGE. */
  storageUrl(prefix: string): string;
  /** Create another bucket (PUT /<name>). */
  createBucket(name: string): Promise<void>;
  /** Where moto's own output goes (for a failing test's message). */
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** The bucket to create (default "baton-test"). */
  readonly bucket?: string;
  /** Extra variables for moto itself (e.g. INITIAL_NO_AUTH_ACTION_COUNT to enforce IAM). */
  readonly env?: Readonly<Record<string, string>>;
}

const REQUIREMENTS = join(dirname(fileURLToPath(import.meta.url)), "..", "python", "requirements-moto.txt");

/**
 * A real S3-API server (moto, from PyPI, in its own virtual environment) on a free loopback port,
 * with one bucket. Tests that need object storage start it; it never skips: a machine without uv
 * or PyPI fails in ensurePythonEnv with the fix.
 */
export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  const venv = ensurePythonEnv({ name: "moto", requirements: REQUIREMENTS });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logDir = join(tmpdir(), "baton-moto");
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `moto-${port}.log`);
  const server = await startServerProcess({
    what: "moto_server",
    command: venv.bin("moto_server"),
    args: ["-H", "127.0.0.1", "-p", String(port)],
    env: { ...process.env, ...options.env },
    logFile,
    url: endpoint,
    ready: async () => (await fetch(`${endpoint}/moto-api/`)).ok,
  });
  const createBucket = async (name: string) => {
    const res = await fetch(`${endpoint}/${name}`, { method: "PUT" });
    if (!res.ok) throw new Error(`moto: creating bucket ${name} failed: ${res.status} ${await res.text()}`);
  };
  const bucket = options.bucket ?? "baton-test";
  await createBucket(bucket);
  return {
    endpoint,
    bucket,
    logFile,
    env: {
      AWS_ACCESS_KEY_ID: "baton-test-key",
      AWS_SECRET_ACCESS_KEY: `baton-test-secret-${Math.random().toString(36).slice(2)}`,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_S3: endpoint,
    },
    storageUrl: (prefix) => `s3://${bucket}/${prefix.replace(/^\/+/, "")}`,
    createBucket,
    stop: server.stop,
  };
}

/**
 * A call to moto's IAM query API (CreateUser, PutUserPolicy, CreateAccessKey, …). Unauthenticated until
 * moto's reset-auth, but moto routes a request to a service by its signing scope, hence the fixed header.
 */
async function motoIam(endpoint: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${endpoint}/`, {
    method: "POST",
    body: new URLSearchParams({ Version: "2010-05-08", ...params }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00" },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`moto IAM ${params.Action}: ${res.status} ${text}`);
  return text;
}

/** A moto IAM user allowed `actions` on `bucket` and its objects, with an access key: made before enforceMotoAuth. */
export async function motoUser(endpoint: string, user: string, bucket: string, actions: readonly string[]): Promise<{ id: string; secret: string }> {
  await motoIam(endpoint, { Action: "CreateUser", UserName: user });
  const key = await motoIam(endpoint, { Action: "CreateAccessKey", UserName: user });
  const policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: actions, Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }] };
  await motoIam(endpoint, { Action: "PutUserPolicy", UserName: user, PolicyName: "baton", PolicyDocument: JSON.stringify(policy) });
  const field = (tag: string): string => {
    const value = new RegExp(`<${tag}>(.*?)</${tag}>`).exec(key)?.[1];
    if (value === undefined) throw new Error(`moto IAM CreateAccessKey for ${user}: no ${tag} in ${key}`);
    return value;
  };
  return { id: field("AccessKeyId"), secret: field("SecretAccessKey") };
}

/** From here on every request to this moto must be signed by a known user and allowed by its policy (moto's reset-auth). */
export async function enforceMotoAuth(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset-auth`, { method: "POST", body: "0" });
  if (!res.ok) throw new Error(`moto reset-auth: ${res.status} ${await res.text()}`);
}
