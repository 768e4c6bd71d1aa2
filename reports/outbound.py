"""The outbound channel besides the live socket: e-mail (Django's backend) and SMS (pluggable).

An SMS gateway is any class with `send(*, phone, text)`, named by REPORTS_SMS_BACKEND; the
console backend prints one line per message (the gateway of development and tests), the number
masked and every link cut to its host: a log must not hold a patient's join or share link (a bearer
secret) nor their phone number (docs/security.md).
"""
import re
import sys
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string


class SmsBackend(Protocol):
    def send(self, *, phone: str, text: str) -> None: ...


class ConsoleSmsBackend:
    """Writes each SMS as one line to stdout, flushed, so that a worker's log shows it."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, *, phone: str, text: str) -> None:
        shown = _LINK.sub(r"\1/…", text)
        self.stream.write(f"SMS to {mask_phone(phone)}: {shown}\n")
        self.stream.flush()


_LINK = re.compile(r"(https?://[^\s/]+)/\S*")


def mask_phone(phone: str) -> str:
    """138****5678: enough for a person to recognise the number, not to dial it."""
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


@dataclass
class Message:
    key: str  # stable per delivery, e.g. "delivery-12": the e-mail Message-ID, for de-duplication downstream
    subject: str
    text: str
    emails: list[str]
    phones: list[str]


def sms_backend() -> SmsBackend:
    return import_string(settings.REPORTS_SMS_BACKEND)()


def send_message(message: Message) -> int:
    """Send over every configured channel; the number of messages handed to backends."""
    sent = 0
    channels = set(settings.REPORTS_OUTBOUND_CHANNELS)
    if "email" in channels and message.emails:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
        email = EmailMessage(subject=message.subject, body=message.text, to=sorted(set(message.emails)),
                             headers={"Message-ID": f"<{message.key}@{domain}>"})
        sent += email.send(fail_silently=False)
    if "sms" in channels:
        backend = sms_backend()
        for phone in sorted(set(message.phones)):
            backend.send(phone=phone, text=f"{message.subject} {message.text}"[:300])
            sent += 1
    return sent
