"""/healthz: the database, the channel layer and the broker, each "ok" or the error."""
import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


async def _layer_roundtrip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    marker = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.check", "marker": marker})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("marker") != marker:
        raise RuntimeError("channel layer returned another message")


def _channel_layer() -> str:
    async_to_sync(_layer_roundtrip)()
    return "ok"


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok (in-process)"
    from teleclinic.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def healthz(request):
    report, healthy = {}, True
    for name, check in (("database", _database), ("channel_layer", _channel_layer), ("broker", _broker)):
        try:
            report[name] = check()
        except Exception as exc:  # a health check reports every failure, it never raises
            report[name] = f"error: {exc.__class__.__name__}: {exc}"
            healthy = False
    report["status"] = "ok" if healthy else "degraded"
    return JsonResponse(report, status=200 if healthy else 503)
