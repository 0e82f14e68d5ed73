"""Where the Baton steps store outputs, and the S3 credentials they use: the `baton_storage` resource.

A Dagster user configures it as any other resource, with `dg.EnvVar` for the secrets:

    BatonStorage(
        aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
    )

Dagster resolves an `EnvVar` when the run's step starts, in the run worker, and keeps only the
variable's name in its records. The values reach the Node step in its environment and nowhere else
(not in Pipes extras, logs or run config), and are redacted from everything the step prints.
A field left unset passes nothing: the run worker's own environment decides (`BATON_STORAGE`, else
the build's `--storage`; the AWS SDK's credential chain: variables, profiles, instance roles).
"""

import os
from collections.abc import Mapping

import dagster as dg
from pydantic import Field

STORAGE_RESOURCE_KEY = "baton_storage"
STORAGE_ENV_VAR = "BATON_STORAGE"

# Field → the variable the Node step reads (packages/core/STORAGE-CONTRACT.md).
_VARIABLES = {
    "url": STORAGE_ENV_VAR,
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "region_name": "AWS_REGION",
    "endpoint_url": "AWS_ENDPOINT_URL_S3",
}
# Redacted from the step's output wherever they came from (the resource or the worker).
SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _unset(what: str) -> str:
    return f"{what}. Unset: the run worker's own environment decides."


class BatonStorage(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the Baton steps store their outputs (a folder or s3://bucket/prefix) and the S3
    credentials they use, passed to each Node step's environment when it starts."""

    url: str | None = Field(
        default=None,
        description=(
            "The IO store: a folder, or s3://bucket/prefix (BATON_STORAGE). Unset: the run "
            "worker's BATON_STORAGE, else the build's --storage."
        ),
    )
    aws_access_key_id: str | None = Field(
        default=None, description=_unset("AWS_ACCESS_KEY_ID (a secret: use dg.EnvVar)")
    )
    aws_secret_access_key: str | None = Field(
        default=None,
        description=_unset("AWS_SECRET_ACCESS_KEY (a secret: use dg.EnvVar)"),
    )
    aws_session_token: str | None = Field(
        default=None, description=_unset("AWS_SESSION_TOKEN (a secret: use dg.EnvVar)")
    )
    region_name: str | None = Field(
        default=None, description=_unset("AWS_REGION (us-east-1 when nothing sets it)")
    )
    endpoint_url: str | None = Field(
        default=None,
        description=_unset(
            "AWS_ENDPOINT_URL_S3, for an S3-compatible server (path-style addressing)"
        ),
    )

    def step_environment(
        self, build_storage: str | None, environ: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The variables to set in the Node step's environment, decided in the run: each field
        that is set; else the build's `--storage` when the worker has no BATON_STORAGE."""
        environ = os.environ if environ is None else environ
        env = {
            variable: value
            for field, variable in _VARIABLES.items()
            if (value := getattr(self, field)) is not None
        }
        unset = STORAGE_ENV_VAR not in env and STORAGE_ENV_VAR not in environ
        if unset and build_storage is not None:
            env[STORAGE_ENV_VAR] = build_storage
        return env


def storage_secrets(
    step_env: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """The storage credentials the step will see (its own variables over the worker's)."""
    environ = os.environ if environ is None else environ
    values = (step_env.get(v) or environ.get(v) for v in SECRET_VARIABLES)
    return [v for v in values if v]
