"""The runtime: everything that runs a published app, in rooms by concern.

Rooms, lowest first; a room imports only rooms below it (``tests/test_layers.py``):

- ``errors``, ``clock``, ``extension`` — shared by every room: error types, the
  platform clock, the hook specifications and the plugin manager;
- ``sandbox`` — the RestrictedPython engine that runs scripts;
- ``data`` — tables generated from metadata, migrations, the record service,
  queries, values, files, comments, import, fixtures, reports;
- ``security`` — accounts, permissions, the audit log, sign-in throttling;
- ``behaviour`` — workflow, routing, SLA and calendars, aggregation, timers,
  scheduler and jobs, notifications, script hooks;
- ``core`` — the :class:`~runtime.core.loom.Loom` that assembles the services,
  its settings, and the app store (publish, rollback);
- ``web`` — the Flask app factory, REST API, OpenAPI and the generated UI;
- ``cli`` and ``plugin_api`` — the command line, and the one surface plugins import.
"""
