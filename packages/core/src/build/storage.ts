import { isAbsolute } from "node:path";
import { BatonError } from "../errors.js";
import { parseStorage } from "../io/open.js";

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//;

/**
 * `--storage`: an absolute path or a URL, kept verbatim (a deployment setting, not a build-time
 * path, so it is never resolved against anything); none → null, the workers' BATON_STORAGE decides.
 */
export function checkStorage(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  // A URL is checked as the workers will read it: an unsupported scheme fails the build, not the first step.
  if (URL_SCHEME.test(value)) {
    parseStorage(value);
    return value;
  }
  if (isAbsolute(value)) return value;
  throw new BatonError("CONFIG", `--storage "${value}" is a relative path: a build runs elsewhere, where it would mean another folder`, {
    hint: `give an absolute path (--storage /srv/baton/storage) or a URL (--storage s3://bucket/prefix), or leave it out and set BATON_STORAGE on the workers`,
  });
}
