"""The cron ticks the real orchestrators compute, for core's DST schedule tests (dst-cron.test.ts).

argv[1] is dagster, airflow or prefect (run with that orchestrator's venv). Reads
{"cases": [{"cron", "tz", "from", "to", "partitions": [...], "prefect": [...]}]} on stdin (epoch
ms) and prints, per case, the ticks in (from, to] and, for each partitions definition, the last
complete key each tick runs once the tick is read as Baton's (baton_core.partitions.schedule_tick,
the adapters' rule); for prefect also the ticks of the schedules core's prefectSchedules() emits.
"""

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

from baton_core.partitions import TimePartitions, schedule_tick


def at(ms):
    return datetime.fromtimestamp(ms / 1000, UTC)


def ms(d):
    return round(d.timestamp() * 1000)


def dagster_ticks(case):
    from dagster._utils.schedules import cron_string_iterator

    out = []
    for d in cron_string_iterator(case["from"] / 1000, case["cron"], case["tz"]):
        if ms(d) <= case["from"]:
            continue
        if ms(d) > case["to"]:
            return out
        out.append(ms(d))
    return out


def airflow_ticks(case):
    # The timetable adapter-airflow gives a schedule's DAG; a run's tick is its data_interval_end.
    import pendulum
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable(case["cron"], timezone=case["tz"])
    # A run ticks at the end of its data interval: start a month and more early so the first
    # interval ends at or before the first tick asked for.
    earliest = pendulum.instance(at(case["from"]) - timedelta(days=40))
    restriction = TimeRestriction(earliest=earliest, latest=None, catchup=True)
    out, last = [], None
    while True:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        last = info.data_interval
        tick = ms(info.data_interval.end)
        if tick > case["to"]:
            return out
        if tick > case["from"]:
            out.append(tick)


def prefect_dates(schedules, case):
    from prefect.server.schemas.schedules import CronSchedule, RRuleSchedule

    async def dates(schedule):
        start = at(case["from"]) + timedelta(milliseconds=1)
        return await schedule.get_dates(n=1000, start=start, end=at(case["to"]))

    found = set()
    for s in schedules:
        schedule = (
            CronSchedule(cron=s["cron"], timezone=s["timezone"])
            if "cron" in s
            else RRuleSchedule(rrule=s["rrule"], timezone=s["timezone"])
        )
        found.update(ms(d) for d in asyncio.run(dates(schedule)))
    return sorted(t for t in found if case["from"] < t <= case["to"])


def main():
    kind = sys.argv[1]
    out = []
    for case in json.load(sys.stdin)["cases"]:
        if kind == "dagster":
            ticks = dagster_ticks(case)
        elif kind == "airflow":
            ticks = airflow_ticks(case)
        else:
            ticks = prefect_dates(
                [{"cron": case["cron"], "timezone": case["tz"]}], case
            )
        # What the adapter runs: Prefect's emitted schedules, or the orchestrator's own ticks.
        runs = prefect_dates(case["prefect"], case) if kind == "prefect" else ticks
        keys = [
            [
                TimePartitions(p).last_complete_key(
                    schedule_tick(at(t), case["cron"], case["tz"])
                )
                for t in runs
            ]
            for p in case["partitions"]
        ]
        out.append({"ticks": ticks, "runs": runs, "keys": keys})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
