import { describeConformance } from "./suite/describe.js";
import { CAPABILITIES } from "./suite/harness.js";
import { embeddedHarness } from "./embedded.js";

// The embedded executor is the reference runtime: it must pass every case.
describeConformance("embedded", embeddedHarness(), { capabilities: CAPABILITIES });
