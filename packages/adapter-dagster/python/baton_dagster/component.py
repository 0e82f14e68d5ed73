"""A Baton build as a Dagster component, declared in a `defs.yaml`:

    type: baton_dagster.BatonBuildComponent
    attributes:
      build: "{{ context.project_root }}/baton"

in the manner of dagster-dbt's `DbtProjectComponent`: the component names the artifact (here the
`baton/` folder a `baton dagster build` writes) and yields its definitions. Its assets need a
`baton_storage` resource (`BatonStorage`), which the project declares (the generated
`defs/resources.py`), so the store and its credentials are the deployment's, set in Python.
"""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from .definitions import baton_definitions


@dataclass
class BatonBuildComponent(dg.Component, dg.Resolvable):
    """The assets, checks, schedules, sensors and resources of one Baton build.

    Args:
        build: The build's `baton/` folder (its `manifest.json` and `build.json`); a relative path
            is relative to the folder of the defs.yaml that declares the component.
    """

    build: str

    def manifest_path(self, context: dg.ComponentLoadContext) -> Path:
        folder = Path(self.build)
        if not folder.is_absolute():
            declared_in = context.path if context.path.is_dir() else context.path.parent
            folder = declared_in / folder
        return folder / "manifest.json"

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return baton_definitions(self.manifest_path(context))
