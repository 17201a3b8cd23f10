"""Helpers for tests and notebooks shipped with datamint (e.g. ``testing.server``)."""
