"""Consumer master data: deduplicate source records into masters with Splink on DuckDB.

An app declares what to match in ``extensions/masterdata.yaml`` (see
``docs/plugins.md`` and ADR 0030): the entity of source records, the entity of
masters, a normaliser per field, blocking rules, comparisons and the
probability thresholds for "same" and "review".
"""
from __future__ import annotations

from runtime.plugin_api import MetadataKind, hookimpl

from .schema import SCHEMA, check


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("masterdata", SCHEMA, title={"ru": "Мастер-данные", "en": "Master data"},
                         check=check)]


@hookimpl
def loom_cli_commands():
    from .cli import group
    return [group]
