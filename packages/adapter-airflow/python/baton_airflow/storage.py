"""The S3 store's credentials from an Airflow AWS connection, resolved at task run time.

With the adapter option ``storageConnection`` (``baton airflow build --storage-connection ID``),
each task reads that connection (conn_type ``aws``) and gives the Node step the standard AWS
variables the store reads:

    login                    -> AWS_ACCESS_KEY_ID
    password                 -> AWS_SECRET_ACCESS_KEY
    extra.aws_session_token  -> AWS_SESSION_TOKEN
    extra.region_name        -> AWS_REGION
    extra.endpoint_url       -> AWS_ENDPOINT_URL_S3   (an S3-compatible server)
    extra.baton_storage      -> BATON_STORAGE         (optional: the store URL, s3://bucket/prefix)

The values go to the step's environment only; the secret ones are registered with Airflow's log
masker and returned so the step's output and reports are redacted too. Without the option the
worker's own environment (or instance role) decides, as for any AWS client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Where each variable comes from in the connection: an attribute, or a key of its extra JSON.
_FROM_ATTRIBUTE = {"login": "AWS_ACCESS_KEY_ID", "password": "AWS_SECRET_ACCESS_KEY"}
_FROM_EXTRA = {
    "aws_session_token": "AWS_SESSION_TOKEN",
    "region_name": "AWS_REGION",
    "endpoint_url": "AWS_ENDPOINT_URL_S3",
    "baton_storage": "BATON_STORAGE",
}
_SECRET = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class StorageConnectionError(ValueError):
    pass


def connection_environment(conn: Any) -> dict[str, str]:
    """The AWS variables one Airflow connection (an ``airflow.sdk.Connection``) stands for."""
    env: dict[str, str] = {}
    for attribute, name in _FROM_ATTRIBUTE.items():
        value = getattr(conn, attribute, None)
        if value:
            env[name] = str(value)
    extra = conn.extra_dejson or {}
    for key, name in _FROM_EXTRA.items():
        if extra.get(key):
            env[name] = str(extra[key])
    if ("AWS_ACCESS_KEY_ID" in env) != ("AWS_SECRET_ACCESS_KEY" in env):
        raise StorageConnectionError(
            f"Airflow connection {conn.conn_id!r} (the Baton store's credentials) needs both "
            "login (the access key id) and password (the secret access key), or neither "
            "(then the worker's AWS credential chain applies)"
        )
    return env


def storage_secrets(env: Mapping[str, str]) -> list[str]:
    """The store's credential values in a step environment (the step redacts them)."""
    return [env[name] for name in _SECRET if env.get(name)]


def storage_environment(conn_id: str) -> dict[str, str]:
    """The Node step's store variables from Airflow connection ``conn_id``; its secret values
    are masked in Airflow's logs from here on."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException as e:
        raise StorageConnectionError(
            f"the Baton store's Airflow connection {conn_id!r} (option storageConnection) "
            "is not defined; create it (conn_type aws, login = access key id, "
            "password = secret access key) or rebuild without --storage-connection"
        ) from e
    env = connection_environment(conn)
    for value in storage_secrets(env):
        mask_secret(value)
    return env
