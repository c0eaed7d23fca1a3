"""E-mail over SMTP (``REGISTRY_MAIL_*``): one connection per run, one message at a time.

Each message ends one of three ways, and the caller records which:

- delivered: the server accepted it (``send`` returns the Message-ID);
- :class:`PermanentFailure`: the server refused it for good (5xx: unknown mailbox, rejected
  content, malformed address). The reminder is marked failed and a paper letter becomes due;
- :class:`TransientFailure`: try again later (4xx, the connection dropped twice). The e-mail
  stays queued for the next run.

:class:`MailServerUnavailable` means no message could be tried at all (wrong host, refused
connection, failed TLS or login): everything stays queued and the command says why.
"""
from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


def is_address(value: str | None) -> bool:
    """A plausible single mailbox (``name@host.tld``): worth trying rather than printing a letter."""
    return bool(value) and len(value) <= 200 and ADDRESS.match(value.strip()) is not None


class MailError(Exception):
    pass


class MailServerUnavailable(MailError):
    """No connection, TLS or login: nothing was sent."""


class PermanentFailure(MailError):
    """The server refused this message for good."""


class TransientFailure(MailError):
    """The server deferred this message; it may be tried again."""


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    sender: str
    use_tls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0
    username: str | None = None
    password: str | None = None
    sender_name: str | None = None

    @classmethod
    def from_config(cls, config) -> MailSettings | None:
        """The settings, or None when mail is not configured (reminders then stay in the outbox)."""
        server, sender = config.get("MAIL_SERVER"), config.get("MAIL_SENDER")
        if not server or not sender:
            return None
        return cls(server=str(server), port=int(config.get("MAIL_PORT") or 25), sender=str(sender),
                   use_tls=_flag(config.get("MAIL_USE_TLS")), use_ssl=_flag(config.get("MAIL_USE_SSL")),
                   timeout=float(config.get("MAIL_TIMEOUT") or 10), username=config.get("MAIL_USERNAME") or None,
                   password=config.get("MAIL_PASSWORD") or None, sender_name=config.get("BUREAU_NAME") or None)

    @property
    def where(self) -> str:
        return f"{self.server}:{self.port}"


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def build_message(settings: MailSettings, to: str, subject: str, body: str, *, reference: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((settings.sender_name or "", settings.sender))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    if reference:
        message["X-Registry-Reference"] = reference  # the reminder's item key, for tracing replies and bounces
    message.set_content(body, charset="utf-8")
    return message


class Mailer:
    """``with Mailer(settings) as mailer: mailer.send(to, subject, body)``."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        self._connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> None:
        s = self.settings
        try:
            if s.use_ssl:
                smtp = smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
            smtp.ehlo_or_helo_if_needed()
            if s.use_tls and not s.use_ssl:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except (OSError, smtplib.SMTPException) as err:
            raise MailServerUnavailable(f"{s.where}: {_describe(err)}") from err
        self._smtp = smtp

    @property
    def connected(self) -> bool:
        return self._smtp is not None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def send(self, to: str, subject: str, body: str, *, reference: str = "") -> str:
        """Hand one message to the server; returns its Message-ID. Raises Permanent/TransientFailure."""
        if not is_address(to):
            raise PermanentFailure(f"not an e-mail address: {to!r}")
        message = build_message(self.settings, to.strip(), subject, body, reference=reference)
        for attempt in (1, 2):  # a dropped connection is reopened once
            if self._smtp is None:
                try:
                    self._connect()
                except MailServerUnavailable as err:
                    raise TransientFailure(str(err)) from err
            try:
                refused = self._smtp.send_message(message)
            except smtplib.SMTPServerDisconnected as err:
                self._smtp = None
                if attempt == 2:
                    raise TransientFailure(_describe(err)) from err
                continue
            except smtplib.SMTPRecipientsRefused as err:
                self._reset()
                code, text = next(iter(err.recipients.values()), (550, b""))
                raise _by_code(code, text) from err
            except smtplib.SMTPResponseException as err:  # sender refused, data refused ...
                self._reset()
                raise _by_code(err.smtp_code, err.smtp_error) from err
            except (OSError, smtplib.SMTPException) as err:  # timeout, broken pipe
                self.close()
                self._smtp = None
                raise TransientFailure(_describe(err)) from err
            if refused:  # only some recipients refused: we always send to one
                code, text = next(iter(refused.values()))
                raise _by_code(code, text)
            return message["Message-ID"]
        raise TransientFailure("connection lost")  # pragma: no cover - the loop always returns or raises

    def _reset(self) -> None:
        """After a refusal the session must be reset before the next message (RFC 5321 §4.1.1.5)."""
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()
            self._smtp = None


def _by_code(code: int, text) -> MailError:
    message = f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}".strip()
    return TransientFailure(message) if 400 <= int(code) < 500 else PermanentFailure(message)


def _describe(err: Exception) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return _by_code(err.smtp_code, err.smtp_error).args[0]
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
