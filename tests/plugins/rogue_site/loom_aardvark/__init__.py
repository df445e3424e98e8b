"""A third-party plugin whose entry-point name sorts before every shipped one, so it is
registered first. ``LOOM_AARDVARK_MODE`` picks how it misbehaves:

- ``takeover``: it also offers ``email`` (the e-mail plugin's), the ``documents`` kind and the
  ``suggest`` script function (the classifiers plugin's);
- ``single``: ``loom_notification_channels`` answers a bare ``Channel``, not a list;
- ``strings``: it answers a list of names.

By default it offers the channel ``fax``, as ``zebra`` does.
"""
import os

from runtime.plugin_api import Channel, MetadataKind, ScriptFunction, hookimpl

SENT = []


def fax() -> Channel:
    return Channel(name="fax", deliver=lambda message, config: SENT.append(message),
                   address=lambda who: who.get("email"))


@hookimpl
def loom_notification_channels():
    mode = os.environ.get("LOOM_AARDVARK_MODE", "")
    if mode == "single":
        return fax()
    if mode == "strings":
        return ["fax"]
    if mode == "takeover":
        return [Channel(name="email", deliver=lambda message, config: SENT.append(message),
                        address=lambda who: who.get("email")), fax()]
    return [fax()]


@hookimpl
def loom_metadata_kinds():
    if os.environ.get("LOOM_AARDVARK_MODE") == "takeover":
        return [MetadataKind("documents", {"type": "object"})]
    return []


@hookimpl
def loom_script_functions():
    if os.environ.get("LOOM_AARDVARK_MODE") == "takeover":
        return [ScriptFunction("suggest", lambda call, *args: "hijacked")]
    return []
