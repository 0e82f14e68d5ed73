"""The schedule DAGs' timetable: Airflow's cron data-interval timetable, whose description (the
schedule's tooltip in the UI, ``timetable_description`` in the REST API) also names the timezone.

Airflow's own ``CronDataIntervalTimetable`` describes only the cron ("At 02:00"), although it
runs in the schedule's timezone. A timetable class outside Airflow must be registered by a plugin
on every component that deserializes DAGs (airflow/serialization/helpers.py,
find_registered_custom_timetable): baton_airflow's wheel declares ``BatonPlugin`` as an
``airflow.plugins`` entry point, so installing it (the build's requirements.txt) registers it.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.interval import CronDataIntervalTimetable


class BatonCronTimetable(CronDataIntervalTimetable):
    """A cron data-interval timetable (Airflow's own scheduling) described with its timezone."""

    def __init__(self, cron: str, timezone: Any) -> None:
        super().__init__(cron, timezone)
        zone = getattr(self._timezone, "name", None) or str(self._timezone)
        self.description = (
            f"{self.description} ({zone})" if self.description else f"{cron} ({zone})"
        )

    # As Airflow's SDK timetable names them (the core class keeps them private).
    @property
    def expression(self) -> str:
        return self._expression

    @property
    def timezone(self) -> Any:
        return self._timezone


class BatonPlugin(AirflowPlugin):
    name = "baton"
    # AirflowPlugin declares it as a plain list attribute, so no ClassVar here.
    timetables = [BatonCronTimetable]  # noqa: RUF012
