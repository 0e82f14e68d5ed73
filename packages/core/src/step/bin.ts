#!/usr/bin/env node
import { runStepEntry } from "./entry.js";
import { stepMain } from "./main.js";

// `baton-step`: what an orchestrator's Python shim launches (commands and exit codes: step/main.ts).
runStepEntry(stepMain, { name: "baton-step" });
