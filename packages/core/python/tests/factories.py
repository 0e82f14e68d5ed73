"""The manifest builders the tests share: baton_core.testing, as adapters use it too."""

from baton_core.testing import asset, daily, dep, hourly, manifest, static

__all__ = ["asset", "daily", "dep", "hourly", "manifest", "static"]
