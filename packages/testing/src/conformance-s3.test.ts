import { describeConformance } from "./suite/describe.js";
import { CAPABILITIES } from "./suite/harness.js";
import { embeddedHarness } from "./embedded.js";

// The reference runtime again, with BATON_STORAGE=s3://… on a moto server the suite starts: every case,
// the same golden hashes, and nothing written into a local folder.
describeConformance("embedded-s3", embeddedHarness(), { capabilities: CAPABILITIES, storage: "s3" });
