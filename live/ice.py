"""ICE servers handed to clients with a room's configuration, and coturn's time-limited credentials.

coturn's shared-secret scheme (`--use-auth-secret`, the "TURN REST API"): the username is
"<expiry unix time>:<user>", the password is base64(HMAC-SHA1(secret, username)); coturn
recomputes it and refuses a username whose expiry has passed. Nothing is stored.
"""
import base64
import hashlib
import hmac
import time


def turn_credentials(*, secret: str, user: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """(username, credential) valid for `ttl` seconds from `now`."""
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def turn_credentials_valid(*, secret: str, username: str, credential: str, now: float | None = None) -> bool:
    """What coturn checks: the HMAC matches and the expiry is in the future."""
    expiry, _, _ = username.partition(":")
    if not expiry.isdigit() or int(expiry) <= (time.time() if now is None else now):
        return False
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), credential)


def client_ice_servers(*, stun_and_turn: list[dict], turn_urls: list[str], turn_secret: str, user: str,
                       ttl: int, now: float | None = None) -> list[dict]:
    """RTCIceServer dicts for a browser: the configured servers plus TURN with fresh credentials."""
    servers = [dict(server) for server in stun_and_turn]
    if turn_urls and turn_secret:
        username, credential = turn_credentials(secret=turn_secret, user=user, ttl=ttl, now=now)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
