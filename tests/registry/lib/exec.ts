import { spawn } from "node:child_process";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this long; default 5 minutes. */
  readonly timeoutMs?: number;
  /** Resolve instead of throwing on a non-zero exit. */
  readonly allowFailure?: boolean;
}

/**
 * Run a command without a shell, capturing its output; throws with the command, its exit code and
 * the tail of its output when it fails or runs past its timeout.
 */
export function run(cmd: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr, ms: Date.now() - started };
      if (!timedOut && (code === 0 || options.allowFailure)) return resolve(result);
      const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
      const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-80).join("\n");
      reject(new Error(`\`${cmd} ${args.join(" ")}\` (in ${options.cwd}) ${why}:\n${tail}`));
    });
  });
}
