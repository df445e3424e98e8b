"""The metadata language of Loom: schemas, loading, checks, versions, diffs, plans.

Pure: no Flask, no database. ``runtime`` interprets what this package loads.
"""
from .document import content_hash, normalize, read_folder, write_folder
from .errors import MetadataError, Problem
from .model import App, Entity, Field, title_text
from .validate import Capabilities, load_app, validate_document

__all__ = ["App", "Capabilities", "Entity", "Field", "MetadataError", "Problem", "content_hash", "load_app", "normalize",
           "read_folder", "title_text", "validate_document", "write_folder"]
