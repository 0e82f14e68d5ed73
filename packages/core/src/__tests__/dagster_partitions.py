"""Dagster's and baton_core's answers to the same time-partition questions, for core's DST tests.

Reads {"now", "cases": [...], "mappings": [...]} on stdin (see dst-dagster.test.ts) and prints
{"cases": [{"dagster": ..., "baton_core": ...}], "mappings": [...]}: instants as epoch ms.
Dagster definitions are built as adapter-dagster builds them (baton_dagster/partitions.py).
"""

import json
import sys
from datetime import UTC, datetime

import dagster as dg
from dagster._check import CheckError

from baton_core.mapping import keys_in_range, upstream_keys
from baton_core.partitions import TimePartitions

_CLASSES = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}


def dagster_def(spec):
    options = {
        "start_date": datetime.fromisoformat(spec["start"]),
        "timezone": spec["timezone"],
        "fmt": spec["format"],
    }
    if spec.get("end"):
        options["end_date"] = datetime.fromisoformat(spec["end"])
    if spec["grain"] == "weekly":
        options["day_offset"] = spec.get("weekStartsOn", 1)
    return _CLASSES[spec["grain"]](**options)


def ms(d):
    return round(d.timestamp() * 1000)


def at(value):
    return datetime.fromtimestamp(value / 1000, UTC)


def has_key(d, key):
    # Dagster raises (CheckError, ValueError) for some strings instead of answering False.
    try:
        return d.has_partition_key(key)
    except (CheckError, ValueError):
        return False


def last_key(d, when):
    keys = d.get_partition_keys(current_time=when)
    return keys[-1] if keys else None


def dagster_answers(case, now):
    d = dagster_def(case["def"])
    keys = list(d.get_partition_keys(current_time=now))
    windows = [d.time_window_for_partition_key(k) for k in keys]
    return {
        "keys": keys,
        "windows": [[ms(w.start), ms(w.end)] for w in windows],
        "has": [has_key(d, k) for k in case["probes"]],
        "keyForTime": [
            d.get_partition_key_for_timestamp(t / 1000) for t in case["instants"]
        ],
        "lastComplete": [last_key(d, at(t)) for t in case["instants"]],
        "ranges": [
            list(d.get_partition_keys_in_range(dg.PartitionKeyRange(a, b)))
            for a, b in case["ranges"]
        ],
    }


def baton_core_answers(case, now):
    p = TimePartitions(case["def"])
    keys = p.keys(now)
    return {
        "keys": keys,
        "windows": [[ms(s), ms(e)] for s, e in (p.time_window(k) for k in keys)],
        "has": [p.has_key(k, now) for k in case["probes"]],
        "keyForTime": [p.key_for_time(at(t)) for t in case["instants"]],
        "lastComplete": [p.last_complete_key(at(t)) for t in case["instants"]],
        "ranges": [
            keys_in_range(case["def"], a, b, "x", now) for a, b in case["ranges"]
        ],
    }


def dagster_upstream(m):
    down, up = dagster_def(m["down"]), dagster_def(m["up"])
    subset = down.empty_subset().with_partition_keys(m["keys"])
    result = dg.TimeWindowPartitionMapping().get_upstream_mapped_partitions_result_for_partitions(
        subset, down, up
    )
    return list(result.partitions_subset.get_partition_keys())


def main():
    request = json.load(sys.stdin)
    if len(sys.argv) > 1:  # keep the request, to rerun it by hand
        with open(sys.argv[1], "w") as f:
            json.dump(request, f)
    now = at(request["now"])
    print(
        json.dumps(
            {
                "cases": [
                    {
                        "dagster": dagster_answers(c, now),
                        "baton_core": baton_core_answers(c, now),
                    }
                    for c in request["cases"]
                ],
                "mappings": [
                    {
                        "dagster": dagster_upstream(m),
                        "baton_core": upstream_keys(
                            m["down"], m["keys"], m["up"], {"type": "timeWindow"}, now
                        ),
                    }
                    for m in request["mappings"]
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
