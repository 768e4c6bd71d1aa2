"""Login throttling shared by every process: failed logins counted per username + client IP.

The counters live in Django's cache, which is Redis whenever REDIS_URL is set, so every
Daphne process behind the proxy sees the same count (the embedded default's local-memory
cache is per process, which is enough for one process). The login page and the API token
endpoint share one counter, so an attacker gains nothing by switching between them.

A fixed window: the first failure starts a LOGIN_FAILURE_WINDOW-second window, and once
LOGIN_FAILURE_LIMIT failures are counted in it every attempt for that username from that
IP is refused until the window ends, even with the right password. A success clears it.
"""
import hashlib

from django.conf import settings
from django.core.cache import cache

from .errors import DomainError


class LoginThrottled(DomainError):
    status, code = 429, "rate_limited"


def _limit() -> int:
    return getattr(settings, "LOGIN_FAILURE_LIMIT", 5)


def _window() -> int:
    return getattr(settings, "LOGIN_FAILURE_WINDOW", 15 * 60)


def _key(username: str, ip: str | None) -> str:
    # Hashed: usernames are user input of any length and characters; keys stay short and safe.
    digest = hashlib.sha256(f"{username.strip().lower()}\x00{ip or '-'}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_throttle_check(*, username: str, ip: str | None) -> None:
    """Raise LoginThrottled when this username + IP has used up its failures for the window."""
    if (cache.get(_key(username, ip)) or 0) >= _limit():
        minutes = max(1, _window() // 60)
        raise LoginThrottled(
            f"登录失败次数过多，请 {minutes} 分钟后再试。"
            f"Too many failed logins for this account from your address; try again in {minutes} minutes."
        )


def login_failure_record(*, username: str, ip: str | None) -> int:
    """Count one failed login; returns the failures counted so far in the window."""
    key = _key(username, ip)
    cache.add(key, 0, timeout=_window())  # starts the window; a no-op when it is running
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.add(key, 1, timeout=_window())
        return 1


def login_throttle_reset(*, username: str, ip: str | None) -> None:
    """A successful login clears its failures."""
    cache.delete(_key(username, ip))
