"""Baton resources as Dagster resources.

Each Baton resource becomes a `ConfigurableResource` with one optional field per config field.
Left unset (the default), the Node step reads the environment variable the manifest names, in
the run's own process, as Baton does everywhere: so a variable missing for one resource fails
only the assets that use it, never the code location or another asset's run. Set in run config
(the launchpad, a schedule), a field's value is passed to the step in that variable instead.
Values reach the Node step only through its environment, never through Pipes extras or logs.
"""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from baton_core.manifest_types import ManifestResource, ManifestResourceConfig

from .manifest import Manifest


def _class_name(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_")) + "Resource"


def _field_description(field: ManifestResourceConfig) -> str:
    source = f"environment variable {field['env']}"
    if field["secret"]:
        source += " (a secret: set it in the environment, not in run config)"
    elif field["default"] is not None:
        source += f", else {field['default']!r}"
    about = f"{field['description']}. " if field["description"] else ""
    return f"{about}Unset: read from {source} when the step runs."


def resource_class(resource: ManifestResource) -> type[dg.ConfigurableResource[Any]]:
    fields: dict[str, Any] = {}
    for field in resource["config"]:
        fields[field["field"]] = (
            str | None,
            Field(default=None, description=_field_description(field)),
        )
    cls = create_model(
        _class_name(resource["key"]), __base__=dg.ConfigurableResource, **fields
    )
    cls.__doc__ = resource["description"] or f"Baton resource {resource['key']!r}"
    return cls


def build_resources(manifest: Manifest) -> dict[str, dg.ConfigurableResource[Any]]:
    return {r["key"]: resource_class(r)() for r in manifest["resources"]}


def _configured(resources: Any, key: str, field: str) -> str | None:
    """The field's run-config value, or None (also for a resource this context does not hold:
    Dagster raises its own error, not AttributeError, for those)."""
    try:
        instance = getattr(resources, key)
    except Exception:  # noqa: BLE001 — an unknown resource has no configured value
        return None
    value = getattr(instance, field, None)
    return value if isinstance(value, str) else None


def step_environment(
    manifest: Manifest, keys: list[str], resources: Any
) -> dict[str, str]:
    """The variables set in run config for these resources; the step reads the rest itself."""
    by_key = {r["key"]: r for r in manifest["resources"]}
    env: dict[str, str] = {}
    for key in keys:
        for field in by_key[key]["config"]:
            value = _configured(resources, key, field["field"])
            if value is not None:
                env[field["env"]] = value
    return env


def secret_values(
    manifest: Manifest, resources: Any, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every secret value a step could print: each secret field of every resource, as configured
    for this run or else as set in the environment."""
    environ = os.environ if environ is None else environ
    values = []
    for resource in manifest["resources"]:
        for field in resource["config"]:
            if not field["secret"]:
                continue
            value = _configured(resources, resource["key"], field["field"])
            value = value if value is not None else environ.get(field["env"])
            if value:
                values.append(value)
    return values
