import type { Manifest } from "@baton/core";
import { FIXED_TASK_IDS, airflowId, assetUri, checkTaskId, dagIdsFor } from "./ids.js";

/*
 * Airflow 3.3.2's parse-time rules, as the installed sources enforce them (paths under
 * site-packages of the pinned venv):
 * - dag_id and task_id: `KEY_REGEX = ^[\w.-]+$`, at most 250 characters
 *   (airflow/sdk/definitions/_internal/node.py:37-52 validate_key; dag.py:449 for dag_id,
 *   bases/operator.py:1125 for task_id). airflowId() only writes [A-Za-z0-9_.-], so the length
 *   and the DAG id prefix are what can still break.
 * - a task id used twice in one DAG: DuplicateTaskIdFound (airflow/sdk/definitions/dag.py:1100);
 *   every asset DAG also holds the tasks "plan", "outcome" and "committed" (and "inline_checks"), and
 *   a task per standalone check, "<asset>__<check>".
 * - Asset name, uri and group: at most 1500 characters, not only whitespace; the name is not
 *   "self" or "context" (airflow/sdk/definitions/asset/__init__.py:188-212).
 * - a cron timetable is checked with croniter when the DAG is bagged (dag.py:763 ->
 *   timetables/_cron.py:55): croniter 6 refuses "L" in the day-of-week field ("5L", last
 *   Friday), which the cron syntax Baton accepts allows (checked against both parsers).
 * Checked and needing no rule: every timezone Node's Intl lists (and the legacy aliases such as
 * US/Eastern) builds a CronDataIntervalTimetable; retries are ints and delays seconds
 * (bases/operator.py _convert_retries); poke_interval and timeout are non-negative
 * (bases/sensor.py:168); tags are Baton's own, under TAG_MAX_LEN = 100 (dag.py:87).
 */
export const MAX_ID_LENGTH = 250;
export const MAX_ASSET_IDENTIFIER = 1500;
const KEY = /^[A-Za-z0-9_.-]+$/;
const RESERVED_ASSET_NAMES = new Set(["self", "context"]);

/** Everything Airflow would refuse when it parses the DAG file, found at build time instead. */
export function translationProblems(manifest: Manifest, prefix: string): string[] {
  const problems: string[] = [];
  if (!KEY.test(prefix)) problems.push(`dagIdPrefix "${prefix}" may only hold letters, digits, "_", "." and "-" (Airflow's DAG id rule)`);
  const collide = (kind: string, names: readonly string[]) => {
    const seen = new Map<string, string>();
    for (const n of names) {
      const id = airflowId(n);
      const other = seen.get(id);
      if (other !== undefined) problems.push(`${kind} "${other}" and "${n}" both become Airflow id "${id}"; rename one`);
      else seen.set(id, n);
    }
  };
  collide("assets", manifest.assets.map((a) => a.id));
  collide("schedules", manifest.schedules.map((s) => s.name));
  collide("sensors", manifest.sensors.map((s) => s.name));

  const fixed = new Set<string>(FIXED_TASK_IDS);
  for (const a of manifest.assets) {
    const taskId = airflowId(a.id);
    if (fixed.has(taskId)) problems.push(`asset "${a.id}" becomes Airflow task id "${taskId}", which every Baton DAG already uses for its own task (${FIXED_TASK_IDS.join(", ")}); rename the asset`);
    if (taskId.length > MAX_ID_LENGTH) problems.push(`asset "${a.id}" becomes an Airflow task id of ${taskId.length} characters; Airflow allows at most ${MAX_ID_LENGTH}: shorten its key`);
    if (RESERVED_ASSET_NAMES.has(a.id)) problems.push(`asset "${a.id}": Airflow refuses an Asset named "${a.id}" (it is reserved); rename the asset`);
    if (assetUri(a.id).length > MAX_ASSET_IDENTIFIER) problems.push(`asset "${a.id}": its Airflow Asset URI "${assetUri(a.id).slice(0, 40)}…" exceeds ${MAX_ASSET_IDENTIFIER} characters; shorten its key`);
    if (a.group.length > MAX_ASSET_IDENTIFIER || a.group.trim() === "") problems.push(`asset "${a.id}": Airflow needs an Asset group of 1 to ${MAX_ASSET_IDENTIFIER} characters, not only spaces; fix its group`);
  }
  // A standalone check's task sits in every DAG holding its asset, beside the asset tasks.
  const taskIds = new Map<string, string>(manifest.assets.map((a) => [airflowId(a.id), `asset "${a.id}"`]));
  for (const a of manifest.assets) {
    for (const c of a.checks) {
      if (!c.standalone) continue;
      const taskId = checkTaskId(a.id, c.name);
      const name = `check "${c.name}" of asset "${a.id}"`;
      const other = taskIds.get(taskId) ?? (fixed.has(taskId) ? `Baton's own task "${taskId}"` : undefined);
      if (other !== undefined) problems.push(`${name} becomes Airflow task id "${taskId}", as ${other} does; rename one`);
      else taskIds.set(taskId, name);
      if (taskId.length > MAX_ID_LENGTH) problems.push(`${name} becomes an Airflow task id of ${taskId.length} characters; Airflow allows at most ${MAX_ID_LENGTH}: shorten the check's name`);
    }
  }
  if (KEY.test(prefix)) {
    const names = ["assets", ...manifest.schedules.map((s) => `schedule "${s.name}"`), ...manifest.sensors.map((s) => `sensor "${s.name}"`)];
    dagIdsFor(manifest, prefix).forEach((dagId, i) => {
      if (dagId.length > MAX_ID_LENGTH) problems.push(`${names[i]}: its DAG id "${dagId.slice(0, 40)}…" has ${dagId.length} characters; Airflow allows at most ${MAX_ID_LENGTH}: shorten the name or the dagIdPrefix`);
    });
  }
  for (const s of manifest.schedules) {
    const dow = s.cron.trim().split(/\s+/)[4] ?? "";
    if (/l/i.test(dow.replace(/[a-z]{3}/gi, (w) => (/^(sun|mon|tue|wed|thu|fri|sat)$/i.test(w) ? "" : w)))) {
      problems.push(`schedule "${s.name}": cron "${s.cron}" uses "L" in the day-of-week field, which Airflow's cron parser (croniter) refuses: Airflow has no "last weekday of the month" in cron; name the days explicitly`);
    }
  }
  return problems;
}
