"""Gunicorn settings for the web process. Scale out by adding containers, not threads."""
import multiprocessing
import os

bind = os.environ.get("LOOM_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("LOOM_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("LOOM_WEB_THREADS", 4))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
max_requests = int(os.environ.get("LOOM_WEB_MAX_REQUESTS", 5000))  # recycle workers to cap memory growth
max_requests_jitter = max_requests // 10
# The master builds the app once and workers fork from it: a worker recycled by max_requests
# serves at once instead of re-reading every app first (a second without serving per recycle,
# a tenth of the throughput in bench/bench_get_throughput.py), and the app's frozen objects
# (runtime/web/wsgi.py) are shared copy-on-write.
preload_app = True
forwarded_allow_ips = os.environ.get("LOOM_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs as JSON lines with the request id (runtime/web/operations.py); gunicorn's own access
# log would repeat each request without it.
os.environ.setdefault("LOOM_LOG_FORMAT", "json")
accesslog = None

# Each worker keeps its Prometheus counters in files here and /metrics adds them up; the folder
# must start empty, so every start of the server gets a fresh one.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    import tempfile
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="loom-metrics-")


def post_fork(server, worker):
    # The master read the database while building the app; its pooled connections are its own.
    from runtime.data.db import forget_inherited_connections
    forget_inherited_connections()


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
