"""Gunicorn settings for the web process. Scale out by adding containers, not threads."""
import multiprocessing
import os

bind = os.environ.get("LOOM_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("LOOM_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("LOOM_WEB_THREADS", 4))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
max_requests = 5000          # recycle workers to cap memory growth
max_requests_jitter = 500
accesslog = "-"
forwarded_allow_ips = os.environ.get("LOOM_FORWARDED_ALLOW_IPS", "127.0.0.1")
