"""Baton assets on Apache Airflow 3: DAGs built from a Baton manifest, each asset run by Node.

The DAG file that `baton airflow build` writes is two lines over ``build_dags``; parsing it
reads JSON and creates operators, it never starts Node.
"""

from .dags import asset_dag, build_dags, sensor_dag
from .manifest import ACCEPTED_MANIFEST_VERSIONS, Manifest, ManifestError, load_manifest
from .outputs import read_output

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "Manifest",
    "ManifestError",
    "asset_dag",
    "build_dags",
    "load_manifest",
    "read_output",
    "sensor_dag",
]
