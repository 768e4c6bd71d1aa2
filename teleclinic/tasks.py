"""Tasks shared by every app."""
from celery import shared_task

from .events import send_to_users_now


@shared_task(name="teleclinic.notify_users")
def notify_users(user_ids: list[int], payload: dict) -> None:
    """Push an event to users' sockets from a worker process (safe to run twice: a nudge)."""
    send_to_users_now(user_ids=user_ids, payload=payload)
