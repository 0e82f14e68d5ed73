"""Reads an @baton/iceberg table the way a Python user would: pyiceberg's REST catalog, then polars.

Prints one JSON object: the rows pyiceberg scanned, the rows polars scanned (both sorted), and the
table's current snapshot id as a string. Arguments: table name, optional snapshot id.
"""

import json
import os
import sys

import polars as pl
from pyiceberg.catalog import load_catalog


def main() -> None:
    name = sys.argv[1]
    snapshot_id = int(sys.argv[2]) if len(sys.argv) > 2 else None
    s3 = {
        "s3.endpoint": os.environ["ICEBERG_S3_ENDPOINT"],
        "s3.access-key-id": os.environ["ICEBERG_S3_ACCESS_KEY_ID"],
        "s3.secret-access-key": os.environ["ICEBERG_S3_SECRET_ACCESS_KEY"],
        "s3.region": os.environ["ICEBERG_S3_REGION"],
        "s3.path-style-access": "true",
    }
    catalog = load_catalog(
        "rest",
        type="rest",
        uri=os.environ["ICEBERG_REST_URI"],
        warehouse=os.environ["ICEBERG_WAREHOUSE"],
        **s3,
    )
    table = catalog.load_table(name)
    by_pyiceberg = table.scan(snapshot_id=snapshot_id).to_polars()
    # polars needs the S3 settings itself: it does not take pyiceberg's FileIO properties.
    storage = {
        "aws_endpoint_url": s3["s3.endpoint"],
        "aws_access_key_id": s3["s3.access-key-id"],
        "aws_secret_access_key": s3["s3.secret-access-key"],
        "aws_region": s3["s3.region"],
        "aws_allow_http": "true",
    }
    by_polars = pl.scan_iceberg(
        table, snapshot_id=snapshot_id, storage_options=storage
    ).collect()
    columns = sorted(by_pyiceberg.columns)
    current = table.current_snapshot()
    print(
        json.dumps(
            {
                "pyiceberg": by_pyiceberg.select(columns).sort(columns).to_dicts(),
                "polars": by_polars.select(columns).sort(columns).to_dicts(),
                "current": None if current is None else str(current.snapshot_id),
                "snapshots": [str(s.snapshot_id) for s in table.snapshots()],
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
