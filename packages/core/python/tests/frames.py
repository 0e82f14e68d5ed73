"""The frames the storage tests write and read back, local and on S3."""

import polars as pl

ORDERS = pl.DataFrame(
    {
        "order_id": [1, 2, 3],
        "customer": ["ann", "bob", "ann"],
        "amount": [9.5, 4.0, 2.25],
    }
)
