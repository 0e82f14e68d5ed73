import { BatonError } from "../errors.js";

/** The two SDK modules the S3 store uses, loaded only when an s3:// store is first used. */
export interface S3Sdk {
  readonly s3: typeof import("@aws-sdk/client-s3");
  readonly storage: typeof import("@aws-sdk/lib-storage");
}

/** What a project installs for s3:// stores (core's optional peer dependencies). */
export const S3_SDK_INSTALL = "pnpm add @aws-sdk/client-s3@3.1175.0 @aws-sdk/lib-storage@3.1175.0";

let loading: Promise<S3Sdk> | undefined;

export function loadS3Sdk(url: string): Promise<S3Sdk> {
  loading ??= (async () => {
    dropNodeVersionWarning();
    try {
      const [s3, storage] = await Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]);
      return { s3, storage };
    } catch (e) {
      loading = undefined;
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw e;
      throw new BatonError("CONFIG", `BATON_STORAGE is ${url}, which needs the AWS SDK for JavaScript, and it is not installed where @baton/core can import it (${(e as Error).message.split("\n")[0]})`, {
        hint: `install it in the project (${S3_SDK_INSTALL}) and rebuild; a build copies it into its runtime`,
      });
    }
  })();
  return loading;
}

let dropping = false;

/**
 * The SDK warns once per process on Node < 22 that later releases will need Node 22. That warning
 * would land on every step's stderr, and so in every orchestrator's log: drop that one warning,
 * let every other through.
 */
function dropNodeVersionWarning(): void {
  if (dropping) return;
  dropping = true;
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning?.message;
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "NodeVersionSupportWarning" || (typeof text === "string" && text.startsWith("NodeVersionSupportWarning"))) return;
    original(warning, ...rest);
  }) as typeof process.emitWarning;
}
