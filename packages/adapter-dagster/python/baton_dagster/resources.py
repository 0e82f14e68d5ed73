"""Baton resources as Dagster resources.

Each Baton resource becomes a `ConfigurableResource` whose fields are bound to the environment
variables the manifest names (`EnvVar`, resolved when a run starts and hidden in the UI). The
values reach the Node step only through its environment, never through Pipes extras or logs.
"""

import os
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from .manifest import Manifest


def _class_name(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_")) + "Resource"


def resource_class(resource: dict[str, Any]) -> type[dg.ConfigurableResource]:
    fields: dict[str, Any] = {}
    for field in resource["config"]:
        fields[field["field"]] = (str, Field(description=field["description"]))
    cls = create_model(
        _class_name(resource["key"]), __base__=dg.ConfigurableResource, **fields
    )
    cls.__doc__ = resource["description"] or f"Baton resource {resource['key']!r}"
    return cls


def _binding(field: dict[str, Any]) -> Any:
    # A non-secret field with a default keeps working when its variable is unset, as in Baton.
    if (
        field["default"] is not None
        and not field["secret"]
        and field["env"] not in os.environ
    ):
        return field["default"]
    return dg.EnvVar(field["env"])


def build_resources(manifest: Manifest) -> dict[str, dg.ConfigurableResource]:
    resources = {}
    for resource in manifest["resources"]:
        cls = resource_class(resource)
        resources[resource["key"]] = cls(
            **{f["field"]: _binding(f) for f in resource["config"]}
        )
    return resources


def step_environment(
    manifest: Manifest, keys: list[str], resources: Any
) -> dict[str, str]:
    """The variables a Node step needs for these resources, read from the resolved Dagster resources."""
    by_key = {r["key"]: r for r in manifest["resources"]}
    env: dict[str, str] = {}
    for key in keys:
        instance = getattr(resources, key)
        for field in by_key[key]["config"]:
            env[field["env"]] = str(getattr(instance, field["field"]))
    return env
