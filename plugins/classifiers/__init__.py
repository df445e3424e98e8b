"""Text classifiers trained offline from an app's labelled records (scikit-learn).

An app declares in ``extensions/classifiers.yaml`` which entity holds labelled texts; ``loom
classifiers train APP NAME`` fits a TF-IDF + logistic regression model on them, reports its
accuracy on a held-back part, and keeps the fitted model in the platform's database; scripts
ask ``suggest(name, text)`` for the most likely label. Nothing is downloaded at run time, and
the model is read back as plain numbers (no pickle). See docs/plugins.md and ADR 0036.
"""
from __future__ import annotations

from runtime.plugin_api import MetadataKind, ScriptFunction, hookimpl

from .schema import SCHEMA, check


@hookimpl
def loom_metadata_kinds():
    return [MetadataKind("classifiers", SCHEMA, title={"ru": "Классификаторы", "en": "Classifiers"}, check=check)]


@hookimpl
def loom_script_functions():
    from .service import suggest
    return [ScriptFunction("suggest", suggest,
                           doc="suggest(name, text) -> the most likely label of the app's classifier `name`, "
                               "or None when it is not trained or not sure enough")]


@hookimpl
def loom_cli_commands():
    from .cli import group
    return [group]
