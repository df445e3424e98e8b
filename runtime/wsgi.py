"""WSGI entry point for production servers: ``gunicorn runtime.wsgi:app``."""
from .web import create_app

app = create_app()
