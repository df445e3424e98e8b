"""WSGI entry point for production servers: ``gunicorn runtime.web.wsgi:app``."""
import gc

from runtime.web import create_app
from runtime.web.operations import configure_logging

configure_logging()
app = create_app()
# The app's long-lived objects (metadata, compiled scripts, tables) move out of the
# collector's reach: later collections scan only what requests allocate, so a pause
# in one request does not grow with the size of the apps (and forked workers share them).
gc.collect()
gc.freeze()
