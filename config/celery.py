"""The Celery application: settings from Django (CELERY_*), one queue per context."""

import os

from celery import Celery, signals
from django_structlog.celery.steps import DjangoStructLogInitStep

from contexts.kernel.wakeup import WakeupLoops

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# One log line per task run: name, id, outcome, duration, correlation id (contexts/kernel/logs.py).
app.steps["worker"].add(DjangoStructLogInitStep)
# The background loops (relay, saga runner) of the queues a worker consumes, in
# threads of its main process, woken by LISTEN/NOTIFY (contexts/kernel/wakeup.py).
app.steps["worker"].add(WakeupLoops)


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Workers and beat log through settings.LOGGING (JSON lines) instead of Celery's format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(**kwargs):
    """Per task what Django does per request: drop broken or expired (CONN_MAX_AGE)
    connections and keep the rest, with CELERY_DB_REUSE_MAX stopping the fixup
    from closing every connection around every task."""
    from django.db import close_old_connections as close

    close()
