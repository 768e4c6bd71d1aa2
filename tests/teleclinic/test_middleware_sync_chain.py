"""Under ASGI (Daphne), the middleware chain runs in sync mode: one thread hop per request, not one per middleware.

teleclinic.middleware.SyncChainMiddleware sits innermost for that. A middleware added below it, or an async-only
one, would put the chain back to hopping between the event loop and the request's thread for each
process_request/process_response (20-40 % more of Daphne's CPU for a small request, measured when it was added).
"""
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings
from django.utils.module_loading import import_string


def _chain(handler):
    """The middleware instances from the outermost in, as Django built them (through its wrapper closures and
    the sync/async adapters)."""
    classes = tuple(import_string(path) for path in settings.MIDDLEWARE)
    found, seen, todo = [], set(), [handler._middleware_chain]
    while todo:
        layer = todo.pop(0)
        if layer is None or id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, classes):
            found.append(layer)
            todo.append(layer.get_response)
        for name in ("func", "awaitable", "__wrapped__"):
            todo.append(getattr(layer, name, None))
        todo.extend(cell.cell_contents for cell in getattr(layer, "__closure__", None) or ())
    return found


def test_every_middleware_takes_sync_mode_under_asgi():
    handler = ASGIHandler()  # loads the settings' MIDDLEWARE with is_async=True
    chain = _chain(handler)
    assert [type(m).__name__ for m in chain][-1] == "SyncChainMiddleware"
    assert len(chain) == len(settings.MIDDLEWARE)  # the whole chain was walked
    in_async_mode = [type(m).__name__ for m in chain if iscoroutinefunction(m)]
    assert in_async_mode == []


def test_without_the_sync_innermost_the_mixins_would_take_async_mode():
    """The check above can fail: without SyncChainMiddleware, Django puts the mixins into async mode."""
    middleware = [m for m in settings.MIDDLEWARE if not m.endswith("SyncChainMiddleware")]
    with override_settings(MIDDLEWARE=middleware):
        chain = _chain(ASGIHandler())
    assert [type(m).__name__ for m in chain if iscoroutinefunction(m)]
