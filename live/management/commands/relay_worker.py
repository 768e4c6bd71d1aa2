"""`manage.py relay_worker`: one media relay worker process, reached through the channel layer."""
import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from live.relay_host import RelayHost, default_worker_name


class Command(BaseCommand):
    help = "Run a relay worker: hosts live rooms placed on it (needs the Redis channel layer)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="", help="worker name (default: host-pid)")

    def handle(self, *args, name="", **options):
        if "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
            raise CommandError("relay_worker needs a shared channel layer: set REDIS_URL. "
                               "Without it, the web process hosts the relay itself.")
        logging.basicConfig(level=logging.INFO)
        logging.getLogger("aioice").setLevel(logging.WARNING)  # one line per ICE check otherwise
        asyncio.run(self._run(name or default_worker_name()))

    async def _run(self, name: str) -> None:
        host = RelayHost(name)
        ready = asyncio.Event()
        task = asyncio.ensure_future(host.run(ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        await ready.wait()
        self.stdout.write(f"relay worker {host.name} ready on {host.channel}", ending="\n")
        self.stdout.flush()
        try:
            await task
        except asyncio.CancelledError:
            pass
