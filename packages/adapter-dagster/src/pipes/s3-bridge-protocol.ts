/**
 * Messages between the S3 bridge (main thread, `s3-bridge.ts`) and its worker (`s3-worker.ts`).
 * Requests with an `id` are answered on the reply port, then the shared flag is set so a main
 * thread blocked in `Atomics.wait` wakes up; the others are fire-and-forget. The worker sends
 * `{id: 0, ok: true}` once when it starts.
 */
import type { MessagePort } from "node:worker_threads";

import type { PipesS3ClientConfig } from "./s3-config.js";

export interface BridgeWorkerData {
  config: PipesS3ClientConfig;
  /** Int32Array(1) over it: set to 1 after every reply. */
  flag: SharedArrayBuffer;
  replies: MessagePort;
}

export type BridgeRequest =
  | { type: "get"; id: number; bucket: string; key: string }
  | { type: "open"; channel: number; bucket: string; keyPrefix: string | null; intervalSeconds: number }
  | { type: "append"; channel: number; line: string }
  | { type: "close"; id: number; channel: number };

export interface BridgeError {
  name: string;
  message: string;
  /** HTTP status of an S3 error answer, when there was one. */
  status?: number;
}

export type BridgeReply =
  | { id: number; ok: true; value?: string; uploaded?: string[] }
  | { id: number; ok: false; error: BridgeError; uploaded?: string[] };
