"""Finding plugins (entry points of the ``loom.plugins`` group) and calling their hooks.

A plugin that fails to import, to register or inside a hook is recorded as a
:class:`PluginFailure` with its name and the error, logged, and left out; the
platform goes on without it. The same goes for a hook that answers with the wrong
type, an implementation of a hook that does not exist (a misspelled name), and a
name another plugin already gives: the platform's own plugins (``plugins.*``,
``designer.*``) keep theirs, so an installed plugin can never take over ``email``.
``LOOM_DISABLED_PLUGINS`` (comma-separated names) leaves installed plugins out on
purpose.
"""
from __future__ import annotations

import difflib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

import click
import pluggy

from metamodel import Capabilities

from . import hookspecs
from .types import Channel, DocumentRenderer, MetadataKind, PeriodicJob, ScriptFunction

GROUP = "loom.plugins"
log = logging.getLogger("loom.plugins")

#: The packages of the plugins Loom ships: theirs are the names a clash never takes away.
SHIPPED = ("plugins", "designer")


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


def _shipped(target: str) -> bool:
    """Whether an entry point's ``module:attr`` is one of the platform's own plugins."""
    return target.partition(":")[0].split(".")[0] in SHIPPED


def _wrong_answer(answer, kind) -> str | None:
    """What is wrong with a hook's answer that should be a list of ``kind``, or ``None``."""
    if not isinstance(answer, (list, tuple)):
        return f"a {type(answer).__name__}"
    strays = sorted({type(item).__name__ for item in answer if not isinstance(item, kind)})
    return f"a list holding {', '.join(strays)}" if strays else None


def _unknown_hooks(pm, plugin) -> list[str]:
    """Why each ``@hookimpl`` of ``plugin`` that no hook specification names is wrong (a typo,
    which pluggy would otherwise keep quietly and never call)."""
    known = [name for name in dir(hookspecs) if name.startswith("loom_")]
    problems = []
    for caller in pm.get_hookcallers(plugin) or ():
        if caller.has_spec() or all(i.optionalhook for i in caller.get_hookimpls() if i.plugin is plugin):
            continue
        close = difflib.get_close_matches(caller.name, known, n=1)
        problems.append(f"implements {caller.name}, which is no Loom hook"
                        + (f" (did you mean {close[0]}?)" if close else ""))
    return problems


class PluginHost:
    """The plugins of one Loom: a pluggy manager plus what its hooks contributed."""

    def __init__(self, disabled=(), extra=()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = frozenset(disabled)
        self._failures: dict[PluginFailure, None] = {}  # ordered, each failure once
        self._infos: list[PluginInfo] = []
        self._cache: dict[str, Any] = {}
        self._owners: dict[str, dict[str, str]] = {}  # hook -> name -> the plugin that gives it
        self._shipped: set[str] = set()
        loaded, broken = discover()
        for ep, error in broken:
            self._fail(ep.name, error, logged=True)
            self._infos.append(PluginInfo(ep.name, *_dist(ep), ep.value, "failed"))
        for ep, plugin in loaded:
            self._add(ep.name, plugin, *_dist(ep), ep.value)
        for name, plugin in extra:  # plugins handed in directly (tests, an embedding program)
            self._add(name, plugin, "-", "-", repr(plugin))

    def _add(self, name, plugin, dist, version, target) -> None:
        if name in self.disabled:
            self._infos.append(PluginInfo(name, dist, version, target, "disabled"))
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001  (pluggy's validation errors, a duplicate name)
            self._fail(name, f"cannot be registered: {exc}")
            self._infos.append(PluginInfo(name, dist, version, target, "failed"))
            return
        for problem in _unknown_hooks(self.pm, plugin):
            self._fail(name, problem)
        hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
        self._infos.append(PluginInfo(name, dist, version, target, "enabled", hooks))
        if _shipped(target):
            self._shipped.add(name)

    def _fail(self, name: str, error: str, logged: bool = False) -> None:
        failure = PluginFailure(name, error)
        if failure not in self._failures:
            self._failures[failure] = None
            if not logged:
                log.error("%s", failure)

    @property
    def failures(self) -> list[PluginFailure]:
        return list(self._failures)

    @property
    def infos(self) -> list[PluginInfo]:
        """Every plugin found; one whose hook failed, answered wrongly or clashed is ``failed``
        (what it gave besides still works: an app that needs it is not refused for that)."""
        failed = {f.name for f in self._failures}
        return [replace(i, state="failed") if i.state == "enabled" and i.name in failed else i for i in self._infos]

    def check(self, reserved_commands=()) -> list[PluginFailure]:
        """Ask every hook that only answers (no web app, no events), so each plugin's failures
        are known: for ``loom plugins list`` and ``loom apps validate``."""
        for ask in (self.channels, self.periodic_jobs, self.renderers, self.script_functions, self.metadata_kinds,
                    self.job_handlers, self.inbound_channels, self.translation_dirs):
            ask()
        self.cli_commands(reserved_commands)
        return self.failures

    # ------------------------------------------------------------------ calling hooks
    @property
    def enabled(self) -> frozenset[str]:
        return frozenset(i.name for i in self._infos if i.state == "enabled")

    def owner(self, hook: str, name: str) -> str | None:
        """The plugin whose answer to ``hook`` gave ``name`` (a channel, a script function)."""
        getattr(self, _MERGED[hook])()
        return self._owners.get(hook, {}).get(name)

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

    def _answers(self, hook: str, wrong, expected: str) -> list[tuple[str, Any]]:
        """The answers of ``hook`` that ``wrong`` finds nothing wrong with, the platform's own
        plugins' first (so in a clash theirs stand), then in registration order. A plugin that
        answered wrongly is reported instead of breaking whoever asked."""
        answers = []
        for plugin, answer in self.call_each(hook):
            problem = wrong(answer)
            if problem:
                self._fail(plugin, f"hook {hook} returned {problem}, expected {expected}")
                continue
            answers.append((plugin, answer))
        return sorted(answers, key=lambda pa: pa[0] not in self._shipped)

    def _named(self, hook: str, kind: type) -> dict[str, Any]:
        """Merge list answers of ``hook`` into ``{item.name: item}``. A name taken twice is the
        failure of the plugin that came second, the platform's own plugins coming first, unless
        one of the two is a ``fallback`` (a generic channel), which gives way to the other."""
        if hook not in self._cache:
            merged, owner = {}, {}
            for plugin, items in self._answers(hook, lambda a: _wrong_answer(a, kind),
                                               f"a list of {kind.__name__}"):
                for item in items:
                    name = item.name
                    if name in merged and getattr(item, "fallback", False):
                        continue  # a dedicated plugin already gives it
                    if name in merged and getattr(merged[name], "fallback", False):
                        merged[name], owner[name] = item, plugin
                        continue
                    if name in merged:
                        self._fail(plugin, f"{hook}: {name!r} is already given by plugin {owner[name]!r}; "
                                           f"this plugin's {name!r} is left out")
                        continue
                    merged[name], owner[name] = item, plugin
            self._cache[hook], self._owners[hook] = merged, owner
        return self._cache[hook]

    def channels(self) -> dict:
        return self._named("loom_notification_channels", Channel)

    def periodic_jobs(self) -> dict:
        return self._named("loom_periodic_jobs", PeriodicJob)

    def renderers(self) -> dict:
        return self._named("loom_document_renderers", DocumentRenderer)

    def script_functions(self) -> dict:
        return self._named("loom_script_functions", ScriptFunction)

    def metadata_kinds(self) -> dict:
        return self._named("loom_metadata_kinds", MetadataKind)

    def inbound_channels(self) -> set[str]:
        answers = self._answers("loom_inbound_channels", lambda a: _wrong_answer(a, str), "a list of str")
        return {name for _, names in answers for name in names}

    def job_handlers(self) -> dict:
        hook = "loom_job_handlers"
        if hook not in self._cache:
            merged, owner = {}, {}
            for plugin, handlers in self._answers(hook, _wrong_handlers, "a mapping of job name to a callable"):
                for name, handler in handlers.items():
                    if name in merged:
                        self._fail(plugin, f"{hook}: job {name!r} is already given by plugin {owner[name]!r}; "
                                           f"this plugin's {name!r} is left out")
                        continue
                    merged[name], owner[name] = handler, plugin
            self._cache[hook], self._owners[hook] = merged, owner
        return self._cache[hook]

    def cli_commands(self, reserved=()) -> list:
        """The plugins' ``loom`` commands but those named like one in ``reserved`` (``loom``'s
        own): such a command is reported on its plugin rather than quietly never run."""
        commands = self._named("loom_cli_commands", click.Command)
        owners = self._owners["loom_cli_commands"]
        for name in sorted(set(commands) & set(reserved)):
            self._fail(owners[name], f"loom_cli_commands: {name!r} is one of loom's own commands; "
                                     f"this plugin's {name!r} is left out")
        return [command for name, command in commands.items() if name not in reserved]

    def translation_dirs(self) -> list[str]:
        answers = self._answers("loom_translation_dirs", _wrong_dirs, "a list of folders")
        return [str(d) for _, dirs in answers for d in dirs]

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


def _wrong_handlers(answer) -> str | None:
    if not isinstance(answer, Mapping):
        return f"a {type(answer).__name__}"
    if not all(isinstance(k, str) and callable(v) for k, v in answer.items()):
        return "a mapping with a name that is no string or a handler that is not callable"
    return None


def _wrong_dirs(answer) -> str | None:
    return _wrong_answer(answer, (str, os.PathLike))


#: The method that merges each named hook's answers (for :meth:`PluginHost.owner`).
_MERGED = {"loom_notification_channels": "channels", "loom_periodic_jobs": "periodic_jobs",
           "loom_document_renderers": "renderers", "loom_script_functions": "script_functions",
           "loom_metadata_kinds": "metadata_kinds", "loom_job_handlers": "job_handlers",
           "loom_cli_commands": "cli_commands"}
