"""Turn environment variables into Django settings (see the settings table in the README)."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in TRUE_VALUES


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


DEFAULT_LANGUAGES = "en,fr,de,it,es,ro,fi,nl"


def languages(value: str | None) -> list[tuple[str, str]]:
    """LANGUAGES → Django's ``[(code, English name)]``; the first is the source language.

    Codes are Django's (``en``, ``fr``, ``pt-br``, …); an unknown code is a configuration
    error, not a language that silently never gets its translations.
    """
    from django.conf.locale import LANG_INFO

    codes = [c.strip().lower().replace("_", "-") for c in (value or DEFAULT_LANGUAGES).split(",")]
    result: list[tuple[str, str]] = []
    for code in filter(None, codes):
        info = LANG_INFO.get(code)
        if info is None or "name" not in info:
            raise ImproperlyConfigured(f"LANGUAGES: {code!r} is not a language Django knows")
        if code not in dict(result):
            result.append((code, info["name"]))
    if not result:
        raise ImproperlyConfigured("LANGUAGES must name at least one language")
    return result


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


DEFAULT_HOST, DEFAULT_PORT = "localhost", 8000
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def served_url(host: str | None, port: str | int | None) -> str:
    """The address a browser uses for a server listening on ``host:port`` (``make run``).

    ``host`` is a name or an IP address without scheme or port; an unspecified address
    (``0.0.0.0``, ``::``: listening on every interface) is reached as localhost.
    """
    name = (host or "").strip() or DEFAULT_HOST
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        if not _HOST_NAME.fullmatch(name):
            raise ImproperlyConfigured(
                f"HOST must be a host name or an IP address, got {host!r}"
            ) from None
    else:
        if address.is_unspecified:
            name = DEFAULT_HOST
        elif address.version == 6:
            name = f"[{address}]"
    text = str(port).strip() if port is not None else ""
    try:
        number = int(text) if text else DEFAULT_PORT
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise ImproperlyConfigured(f"PORT must be a port number (1 to 65535), got {port!r}")
    return f"http://{name}" if number == 80 else f"http://{name}:{number}"


def site_url(environ) -> str:
    """SITE_URL when set; else the address ``HOST``/``PORT`` serve (``make run`` sets them).

    Every absolute link the CMS writes (email, API, media) starts with it, so with
    ``PORT=8101 make run`` the links lead to the server that is actually running.
    """
    explicit = (environ.get("SITE_URL") or "").strip()
    if explicit:
        return explicit.rstrip("/")
    return served_url(environ.get("HOST"), environ.get("PORT"))


def secret_key(value: str | None, key_file: Path) -> str:
    """SECRET_KEY, or one generated once for this installation and kept in ``key_file``.

    A random key per installation is safe; a key shared by every checkout is not. Several
    machines serving one site must share one key: set SECRET_KEY there.
    """
    if value:
        return value
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def database_config(url: str, base_dir: Path) -> dict:
    """DATABASE_URL → a DATABASES["default"] entry; relative SQLite paths live under base_dir."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = base_dir / url.removeprefix("sqlite:///")
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    config = dj_database_url.parse(url, conn_max_age=0 if url.startswith("sqlite") else 60)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while the worker writes; the timeout rides
        # out the short write locks of the ORM broker and the sending ledger.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
    return config


def email_config(url: str | None, esp: str | None, mail_dir: Path) -> dict:
    """EMAIL_URL / ANYMAIL_ESP → Django e-mail settings.

    Supported: ``smtp://host:port``, ``smtp+tls://user:pass@host:port`` (STARTTLS),
    ``smtps://…`` (implicit TLS), ``console://``, ``memory://``, ``catcher://[path]``
    (the default: every message saved as an .eml file under ``var/mail``).
    ``ANYMAIL_ESP`` (postmark, mailgun, amazon_ses, sendgrid, brevo, …) wins over
    EMAIL_URL and sends through that provider's API with django-anymail.
    """
    if esp:
        return {"EMAIL_BACKEND": f"anymail.backends.{esp.strip().lower()}.EmailBackend"}
    if not url or url.startswith("catcher:"):
        path = url.removeprefix("catcher://") if url else ""
        return {
            "EMAIL_BACKEND": "penelope.mail.CatcherBackend",
            "EMAIL_FILE_PATH": str(Path(path) if path else mail_dir),
        }
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme in {"memory", "locmem"}:
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme not in {"smtp", "smtp+tls", "smtps", "submission"}:
        raise ImproperlyConfigured(f"EMAIL_URL: unsupported scheme {scheme!r}")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    default_port = {"smtp": 25, "smtp+tls": 587, "submission": 587, "smtps": 465}[scheme]
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or default_port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": scheme in {"smtp+tls", "submission"},
        "EMAIL_USE_SSL": scheme == "smtps",
        "EMAIL_TIMEOUT": int(options.get("timeout", 30)),
    }


def anymail_config(environ: os._Environ | dict) -> dict:
    """Every ``ANYMAIL_<NAME>`` variable becomes ``ANYMAIL["<NAME>"]``."""
    skip = {"ANYMAIL_ESP"}
    return {
        key.removeprefix("ANYMAIL_"): value
        for key, value in environ.items()
        if key.startswith("ANYMAIL_") and key not in skip and value
    }


def q_cluster_config(redis_url: str | None, workers: int, timeout: int) -> dict:
    """django-q2: Redis broker when REDIS_URL is set, else the ORM broker on the database."""
    config = {
        "name": "cms",
        "workers": workers,
        "recycle": 500,
        "timeout": timeout,
        # A task still running after `retry` seconds is handed to another worker,
        # so it must be longer than the longest task.
        "retry": timeout + 60,
        "max_attempts": 3,
        "catch_up": False,
        "save_limit": 1000,
        "ack_failures": True,
        "label": "Task queue",
        "poll": 0.5,
    }
    if redis_url:
        config["redis"] = redis_url
    else:
        config["orm"] = "default"
    return config


def cache_config(redis_url: str | None) -> dict:
    if redis_url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
            }
        }
    # Embedded default: one process-local cache (rate limits count per web process).
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
