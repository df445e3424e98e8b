"""How the platform is extended: the hook specifications, the types they speak
in, and the plugin host that discovers plugins through the ``loom.plugins``
entry-point group.

This room sits at the bottom so every other room can call hooks. Plugins do not
import it: they import :mod:`runtime.plugin_api`, which re-exports what they need.
"""
# The room's surface, for the other rooms (plugins use runtime.plugin_api instead).
from .hookspecs import hookimpl, hookspec
from .host import GROUP, PluginFailure, PluginHost, PluginInfo, discover
from .types import (Channel, ChannelError, DocumentRenderer, InboundEvent, MessageRefused, MetadataKind,
                    OutgoingMessage, PeriodicJob, RecordEvent, ScriptFunction)

__all__ = ["GROUP", "Channel", "ChannelError", "DocumentRenderer", "InboundEvent", "MessageRefused", "MetadataKind", "OutgoingMessage",
           "PeriodicJob", "PluginFailure", "PluginHost", "PluginInfo", "RecordEvent", "ScriptFunction", "discover",
           "hookimpl", "hookspec"]
