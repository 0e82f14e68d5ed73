"""Baton resources configured from Prefect: Blocks, Secrets and Variables become step env vars.

The manifest names, for each resource config field, the environment variable the step reads.
The mapping (written into flows.py by the emitter) says where Prefect keeps each value:

    {"warehouse": {"block": "warehouse-prod",               # a BatonResource block document
                   "fields": {"password": {"secret": "warehouse-password"},   # a Secret block
                              "schema": {"variable": "warehouse_schema"},     # a Variable
                              "dsn": {"env": "WAREHOUSE_DSN"}}}}              # the worker's env

Values are loaded when a task runs and go only into the Node child's environment: never into
parameters, results or logs (secret values are also masked in the forwarded output).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect import get_run_logger
from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect.exceptions import MissingContextError
from prefect.types import SecretDict
from prefect.variables import Variable
from pydantic import Field, SecretStr

from baton_core import secret_values

from .errors import BatonError
from .manifest import Manifest
from .sync import sync_result

ResourceMapping = Mapping[str, Mapping[str, Any]]


class BatonResource(Block):
    """Config of one Baton resource: plain values and secrets, by config field name."""

    _block_type_name = "Baton Resource"
    _block_type_slug = "baton-resource"
    _description = (
        "Configuration of a Baton resource: values and secrets by config field name."
    )

    values: dict[str, str] = Field(
        default_factory=dict, description="Plain config values by field."
    )
    secrets: SecretDict = Field(
        default_factory=lambda: SecretDict({}),
        description="Secret config values by field.",
    )


@dataclass
class StepEnvironment:
    """Variables for one Node step, and the secret values to mask in anything it prints."""

    env: dict[str, str]
    secrets: list[str] = field(default_factory=list)

    def redact(self, text: str) -> str:
        for value in self.secrets:
            text = text.replace(value, "***")
        return text

    def redact_all(self, value: Any) -> Any:
        """``value`` (JSON-like: dicts, lists, strings) with every secret masked in every string."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact_all(k): self.redact_all(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_all(v) for v in value]
        return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def step_environment(
    manifest: Manifest,
    resource_keys: Iterable[str],
    mapping: ResourceMapping,
    base: Mapping[str, str] | None = None,
) -> StepEnvironment:
    """The worker's environment plus the mapped config of the given resources."""
    result = StepEnvironment(env=dict(os.environ if base is None else base))
    blocks: dict[str, BatonResource] = {}
    keys = sorted(set(resource_keys))
    for key in keys:
        resource = manifest.resources.get(key)
        if resource is None:
            raise BatonError(f'the manifest has no resource "{key}"')
        spec = mapping.get(key, {})
        for config in resource["config"]:
            name = config["field"]
            value, secret = _lookup(spec, name, blocks)
            if value is None:
                continue  # left to the worker's own environment (or the field's default)
            result.env[config["env"]] = value
            if secret and value:
                result.secrets.append(value)
    # Every secret field is masked, mapped or not: an unmapped one comes from the worker's env.
    result.secrets.extend(secret_values(manifest, keys, result.env))
    # Mask longer secrets first so a secret containing another is masked whole.
    result.secrets = sorted(set(result.secrets), key=lambda s: (-len(s), s))
    return result


def _lookup(
    spec: Mapping[str, Any], name: str, blocks: dict[str, BatonResource]
) -> tuple[str | None, bool]:
    source = spec.get("fields", {}).get(name)
    if source is not None:
        if "secret" in source:
            secret: Secret[Any] = sync_result(Secret.load(source["secret"]))
            return _text(secret.get()), True
        if "variable" in source:
            value = Variable.get(source["variable"])
            return (None if value is None else _text(value)), False
        if "env" in source:
            return os.environ.get(source["env"]), False
        raise BatonError(
            f"unknown resource source {source}: use secret, variable or env"
        )
    if "block" in spec:
        block_name = spec["block"]
        if block_name not in blocks:
            blocks[block_name] = sync_result(BatonResource.load(block_name))
        block = blocks[block_name]
        secrets = block.secrets.get_secret_value()
        if name in secrets:
            return _text(secrets[name]), True
        if name in block.values:
            return block.values[name], False
    return None, False


# The keys of the storage Secret's JSON value and the variables the step's S3 client reads.
STORAGE_SECRET_KEYS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "region": "AWS_REGION",
    "endpoint_url": "AWS_ENDPOINT_URL_S3",
}
# Values masked in everything the step prints (the region and endpoint are not secret).
_MASKED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Inherited credentials that would mix with the Secret's into another identity.
_REPLACED = ("AWS_SESSION_TOKEN", "AWS_PROFILE")


def storage_credentials(secret_name: str) -> StepEnvironment:
    """The S3 store's variables from a Prefect Secret block whose value is a JSON object.

    Only the returned ``env`` carries the values (for the Node step); ``secrets`` lists the ones
    to mask. Unknown keys are refused, naming the ones accepted, so a typo is not silently lost.
    """
    secret: Secret[Any] = sync_result(Secret.load(secret_name))
    value = secret.get()  # a string value is JSON-decoded by Prefect
    if not isinstance(secret.value, SecretStr):
        # Prefect 3.9.1 masks a Secret's value in its API and UI only when it is a string: the
        # fields of a JSON object are shown as they are (block_documents: obfuscation by schema
        # field "value", while the stored data is flattened to "value.<key>").
        _run_logger().warning(
            'the storage Secret "%s" holds a JSON object, which Prefect shows unmasked in its'
            " API and UI; save the JSON as a string: Secret(value=json.dumps({...}))",
            secret_name,
        )
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        raise BatonError(
            f'the storage Secret "{secret_name}" is not a JSON object; save it as'
            ' Secret(value=json.dumps({"aws_access_key_id": …, "aws_secret_access_key":'
            ' …, "region": …, "endpoint_url": …}))'
        )
    unknown = sorted(set(value) - set(STORAGE_SECRET_KEYS))
    if unknown:
        raise BatonError(
            f'the storage Secret "{secret_name}" has unknown key(s) {", ".join(unknown)};'
            f" use {', '.join(STORAGE_SECRET_KEYS)}"
        )
    env = {
        STORAGE_SECRET_KEYS[k]: str(v)
        for k, v in value.items()
        if v is not None and str(v) != ""
    }
    if ("AWS_ACCESS_KEY_ID" in env) != ("AWS_SECRET_ACCESS_KEY" in env):
        raise BatonError(
            f'the storage Secret "{secret_name}" needs both aws_access_key_id and'
            " aws_secret_access_key, or neither"
        )
    return StepEnvironment(env=env, secrets=[env[k] for k in _MASKED if k in env])


def _run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow or task run's logger (its messages reach Prefect), else this module's."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def with_storage_credentials(
    environment: StepEnvironment, credentials: StepEnvironment
) -> StepEnvironment:
    """``environment`` with the storage Secret's variables: they win over the worker's, and a
    key pair from the Secret drops the worker's own session token and profile. The store's
    credentials are masked wherever they came from (the Secret or the worker's environment)."""
    env = dict(environment.env)
    if "AWS_ACCESS_KEY_ID" in credentials.env:
        for name in _REPLACED:
            env.pop(name, None)
    env.update(credentials.env)
    masked = {env[k] for k in _MASKED if env.get(k)}
    secrets = sorted(
        set(environment.secrets) | set(credentials.secrets) | masked,
        key=lambda s: (-len(s), s),
    )
    return StepEnvironment(env=env, secrets=secrets)


def storage_env(secret_name: str) -> dict[str, str]:
    """The S3 variables of a storage Secret block, for native code that reads Baton outputs:
    ``baton_core.read_output(key, storage=…, env=storage_env("baton-s3"))``. Call it inside the
    task that reads (never pass the values as parameters: Prefect would record them)."""
    return storage_credentials(secret_name).env
