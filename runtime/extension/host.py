"""Finding plugins (entry points of the ``loom.plugins`` group) and calling their hooks.

A plugin that fails to import, to register or inside a hook is recorded as a
:class:`PluginFailure` with its name and the error, logged, and left out; the
platform goes on without it. ``LOOM_DISABLED_PLUGINS`` (comma-separated names)
leaves installed plugins out on purpose.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from metamodel import Capabilities

from . import hookspecs

GROUP = "loom.plugins"
log = logging.getLogger("loom.plugins")


@dataclass(frozen=True)
class PluginInfo:
    """An installed plugin: its entry-point name, distribution and version, and state."""

    name: str
    dist: str
    version: str
    target: str  # the entry point's ``module:attr``
    state: str  # enabled | disabled | failed
    hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginFailure:
    name: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r}: {self.error}"


_found: dict[tuple, tuple] = {}


def discover() -> tuple[list[tuple[metadata.EntryPoint, Any]], list[tuple[metadata.EntryPoint, str]]]:
    """Load every entry point of :data:`GROUP`: ``([(entry point, plugin)], [(entry point, error)])``.

    Cached per ``sys.path``: a folder added to the path (a plugin installed
    meanwhile) is seen by the next call.
    """
    key = tuple(sys.path)
    if key not in _found:
        loaded, broken, seen = [], [], set()
        for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
            if ep.name in seen:  # the same distribution seen twice on the path
                continue
            seen.add(ep.name)
            try:
                loaded.append((ep, ep.load()))
            except Exception as exc:  # noqa: BLE001  (any import error is the plugin's, not ours)
                broken.append((ep, f"cannot be loaded: {type(exc).__name__}: {exc}"))
                log.error("plugin %r %s", ep.name, broken[-1][1])  # once per discovery, not per Loom
        _found[key] = (loaded, broken)
    return _found[key]


def _dist(ep) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist is not None else ("?", "?")


class PluginHost:
    """The plugins of one Loom: a pluggy manager plus what its hooks contributed."""

    def __init__(self, disabled=(), extra=()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = frozenset(disabled)
        self._failures: dict[PluginFailure, None] = {}  # ordered, each failure once
        self.infos: list[PluginInfo] = []
        self._cache: dict[str, Any] = {}
        loaded, broken = discover()
        for ep, error in broken:
            self._fail(ep.name, error, logged=True)
            self.infos.append(PluginInfo(ep.name, *_dist(ep), ep.value, "failed"))
        for ep, plugin in loaded:
            self._add(ep.name, plugin, *_dist(ep), ep.value)
        for name, plugin in extra:  # plugins handed in directly (tests, an embedding program)
            self._add(name, plugin, "-", "-", repr(plugin))

    def _add(self, name, plugin, dist, version, target) -> None:
        if name in self.disabled:
            self.infos.append(PluginInfo(name, dist, version, target, "disabled"))
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001  (pluggy's validation errors, a duplicate name)
            self._fail(name, f"cannot be registered: {exc}")
            self.infos.append(PluginInfo(name, dist, version, target, "failed"))
            return
        hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
        self.infos.append(PluginInfo(name, dist, version, target, "enabled", hooks))

    def _fail(self, name: str, error: str, logged: bool = False) -> None:
        failure = PluginFailure(name, error)
        if failure not in self._failures:
            self._failures[failure] = None
            if not logged:
                log.error("%s", failure)

    @property
    def failures(self) -> list[PluginFailure]:
        return list(self._failures)

    # ------------------------------------------------------------------ calling hooks
    @property
    def enabled(self) -> frozenset[str]:
        return frozenset(i.name for i in self.infos if i.state == "enabled")

    @property
    def listening(self) -> bool:
        """Whether any plugin subscribes to record events (if none, changes note nothing)."""
        if "listening" not in self._cache:
            self._cache["listening"] = bool(self.pm.hook.loom_record_event.get_hookimpls())
        return self._cache["listening"]

    def call_each(self, hook: str, skip=frozenset(), **kwargs) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin that implements it (but those in ``skip``), one at a
        time, so one failing plugin is reported and the others still answer: ``[(plugin, answer)]``."""
        answers = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():  # registration order
            if impl.plugin_name in skip:
                continue
            try:
                answer = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                self._fail(impl.plugin_name, f"failed in {hook}: {type(exc).__name__}: {exc}")
                continue
            if answer is not None:
                answers.append((impl.plugin_name, answer))
        return answers

    def _named(self, hook: str, key: str = "name") -> dict[str, Any]:
        """Merge list answers of ``hook`` into ``{item.name: item}``; a name taken twice is a failure,
        unless one of the two is a ``fallback`` (a generic channel), which gives way to the other."""
        if hook not in self._cache:
            merged, owner = {}, {}
            for plugin, items in self.call_each(hook):
                for item in items:
                    name = getattr(item, key)
                    if name in merged and getattr(item, "fallback", False):
                        continue  # a dedicated plugin already gives it
                    if name in merged and getattr(merged[name], "fallback", False):
                        merged[name], owner[name] = item, plugin
                        continue
                    if name in merged:
                        self._fail(plugin, f"{hook}: {name!r} is already given by plugin {owner[name]!r}")
                        continue
                    merged[name], owner[name] = item, plugin
            self._cache[hook] = merged
        return self._cache[hook]

    def channels(self) -> dict:
        return self._named("loom_notification_channels")

    def periodic_jobs(self) -> dict:
        return self._named("loom_periodic_jobs")

    def renderers(self) -> dict:
        return self._named("loom_document_renderers")

    def script_functions(self) -> dict:
        return self._named("loom_script_functions")

    def metadata_kinds(self) -> dict:
        return self._named("loom_metadata_kinds")

    def inbound_channels(self) -> set[str]:
        return {name for _, names in self.call_each("loom_inbound_channels") for name in names}

    def job_handlers(self) -> dict:
        if "jobs" not in self._cache:
            merged = {}
            for plugin, handlers in self.call_each("loom_job_handlers"):
                for name, handler in dict(handlers).items():
                    if name in merged:
                        self._fail(plugin, f"loom_job_handlers: job {name!r} is already given")
                        continue
                    merged[name] = handler
            self._cache["jobs"] = merged
        return self._cache["jobs"]

    def cli_commands(self) -> list:
        return [command for _, commands in self.call_each("loom_cli_commands") for command in commands]

    def translation_dirs(self) -> list[str]:
        return [str(d) for _, dirs in self.call_each("loom_translation_dirs") for d in dirs]

    def capabilities(self) -> Capabilities:
        """What apps published here may refer to: for validation at publish."""
        return Capabilities(plugins=self.enabled, channels=frozenset({"inapp", *self.channels()}),
                            kinds={k: kind.schema for k, kind in self.metadata_kinds().items()},
                            disabled=frozenset(self.disabled),
                            checks={k: kind.check for k, kind in self.metadata_kinds().items() if kind.check})

    def worker_started(self, platform) -> None:
        self.call_each("loom_worker_started", platform=platform)

    def notify_record_event(self, event, platform) -> None:
        """Tell every subscriber; a failing one is logged and the others still hear of it."""
        self.call_each("loom_record_event", event=event, platform=platform)
