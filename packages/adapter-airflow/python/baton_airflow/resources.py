"""Baton resources -> Airflow Connections or Variables, resolved at run time into the step's environment.

The mapping (adapter option ``resources``) names, per Baton resource, where its config comes from:

    {"audit_api": {"connection": "audit_api", "fields": {"url": "host", "token": "password"}},
     "landing":   {"variable": "landing"}}

Connection field sources: host, login, password, schema, port, uri, conn_type, extra.<key>
(default: extra.<field>). A Variable holds a JSON object; field sources are its keys (default:
the field name). Resources without a mapping read the worker's own environment variables.
Values are resolved inside the task only and go to the Node child's environment, never to the
DAG file, XCom or the log (secret values are registered with Airflow's log masker).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .manifest import Manifest

_CONNECTION_ATTRS = ("host", "login", "password", "schema", "port", "conn_type")


class ResourceConfigError(ValueError):
    pass


def _from_connection(conn: Any, source: str) -> Any:
    if source == "uri":
        return conn.get_uri()
    if source.startswith("extra."):
        return conn.extra_dejson.get(source[len("extra.") :])
    if source in _CONNECTION_ATTRS:
        return getattr(conn, source)
    raise ResourceConfigError(
        f"unknown connection field {source!r}; use one of {', '.join(_CONNECTION_ATTRS)}, uri, extra.<key>"
    )


def _lookup(spec: dict[str, Any]) -> tuple[str, Callable[[str], Any], str]:
    """The Airflow object behind one mapping entry and a function reading a field source from it."""
    from airflow.sdk import Connection, Variable

    if "connection" in spec:
        conn = Connection.get(spec["connection"])
        return (
            f"connection {spec['connection']!r}",
            (lambda source: _from_connection(conn, source)),
            "extra.",
        )
    value = Variable.get(spec["variable"], deserialize_json=True)
    if not isinstance(value, dict):
        raise ResourceConfigError(
            f"Airflow Variable {spec['variable']!r} must hold a JSON object of the resource's fields"
        )
    return f"variable {spec['variable']!r}", value.get, ""


def resource_environment(
    manifest: Manifest, keys: Iterable[str], mapping: Mapping[str, dict[str, Any]]
) -> dict[str, str]:
    """Environment variables (name -> value) for the given resources, read from Airflow."""
    from airflow.sdk.log import mask_secret

    env: dict[str, str] = {}
    for key in sorted(set(keys)):
        spec = mapping.get(key)
        if spec is None:
            continue
        where, read, default_prefix = _lookup(spec)
        fields = spec.get("fields") or {}
        for c in manifest.resource(key)["config"]:
            source = fields.get(c["field"], default_prefix + c["field"])
            value = read(source)
            if value is None or value == "":
                if c["default"] is None and c["env"] not in os.environ:
                    raise ResourceConfigError(
                        f"resource {key!r} needs its field {c['field']!r} (env {c['env']}): {where} has no {source!r}"
                    )
                continue
            text = str(value)
            if c["secret"]:
                mask_secret(text, c["env"])
            env[c["env"]] = text
    return env
