import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from penelope import env

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_default_lives_under_base_dir(tmp_path):
    config = env.database_config("sqlite:///var/db.sqlite3", tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(config["NAME"]) == tmp_path / "var" / "db.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_postgres_url_is_parsed(tmp_path):
    config = env.database_config("postgres://app:s3cret@db.internal:6543/cms", tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"]) == ("app", "s3cret")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 6543, "cms")
    assert config["CONN_HEALTH_CHECKS"] is True


def test_redis_url_switches_broker_and_cache():
    q = env.q_cluster_config("redis://localhost:6379/2", workers=4, timeout=120)
    assert q["redis"] == "redis://localhost:6379/2" and "orm" not in q
    assert q["workers"] == 4 and q["retry"] > q["timeout"]
    cache = env.cache_config("redis://localhost:6379/2")["default"]
    assert cache["BACKEND"].endswith("RedisCache")
    assert cache["LOCATION"] == "redis://localhost:6379/2"


def test_no_redis_means_orm_broker():
    q = env.q_cluster_config(None, workers=2, timeout=300)
    assert q["orm"] == "default" and "redis" not in q


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://mail.local:2525",
            {"EMAIL_HOST": "mail.local", "EMAIL_PORT": 2525, "EMAIL_USE_TLS": False},
        ),
        (
            "smtp+tls://me%40x.org:p%40ss@smtp.x.org",
            {
                "EMAIL_HOST_USER": "me@x.org",
                "EMAIL_HOST_PASSWORD": "p@ss",
                "EMAIL_PORT": 587,
                "EMAIL_USE_TLS": True,
            },
        ),
        ("smtps://smtp.x.org", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
    ],
)
def test_email_url_smtp(url, expected, tmp_path):
    config = env.email_config(url, None, tmp_path)
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    for key, value in expected.items():
        assert config[key] == value


def test_email_defaults_to_local_catcher_and_esp_wins(tmp_path):
    assert env.email_config(None, None, tmp_path) == {
        "EMAIL_BACKEND": "penelope.mail.CatcherBackend",
        "EMAIL_FILE_PATH": str(tmp_path),
    }
    assert env.email_config("smtp://x", "postmark", tmp_path)["EMAIL_BACKEND"] == (
        "anymail.backends.postmark.EmailBackend"
    )
    assert env.email_config("console://", None, tmp_path)["EMAIL_BACKEND"].endswith(
        "console.EmailBackend"
    )


def test_email_url_with_unknown_scheme_is_refused(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="unsupported scheme"):
        env.email_config("pigeon://coop", None, tmp_path)


def test_anymail_variables_become_the_anymail_dict():
    config = env.anymail_config(
        {
            "ANYMAIL_ESP": "postmark",
            "ANYMAIL_POSTMARK_SERVER_TOKEN": "t",
            "ANYMAIL_WEBHOOK_SECRET": "u:p",
            "OTHER": "x",
        }
    )
    assert config == {"POSTMARK_SERVER_TOKEN": "t", "WEBHOOK_SECRET": "u:p"}


def test_secret_key_is_generated_once_per_installation_and_kept_private(tmp_path):
    key_file = tmp_path / "var" / "secret_key"
    key = env.secret_key(None, key_file)
    assert len(key) >= 50
    assert env.secret_key("", key_file) == key  # the same on every start
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert env.secret_key("from-the-environment", key_file) == "from-the-environment"
    assert env.secret_key(None, tmp_path / "other" / "secret_key") != key


def test_catcher_backend_writes_eml_files(tmp_path, settings):
    from django.core.mail import EmailMultiAlternatives, get_connection

    connection = get_connection("penelope.mail.CatcherBackend", file_path=tmp_path)
    message = EmailMultiAlternatives(
        "Hello", "text body", "a@example.org", ["b@example.org"], connection=connection
    )
    message.attach_alternative("<p>html body</p>", "text/html")
    assert message.send() == 1
    (eml,) = tmp_path.glob("*.eml")
    raw = eml.read_text()
    assert "Subject: Hello" in raw and "text/html" in raw


# --- SITE_URL follows the address that is served -----------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://localhost:8000"),
        ({"PORT": "8101"}, "http://localhost:8101"),
        ({"HOST": "127.0.0.1", "PORT": "8101"}, "http://127.0.0.1:8101"),
        ({"HOST": "0.0.0.0", "PORT": "8101"}, "http://localhost:8101"),  # noqa: S104
        ({"HOST": "::", "PORT": "8101"}, "http://localhost:8101"),
        ({"HOST": "::1", "PORT": "8101"}, "http://[::1]:8101"),
        ({"HOST": "cms.local", "PORT": "80"}, "http://cms.local"),
        ({"HOST": " 127.0.0.1 ", "PORT": " 8101 "}, "http://127.0.0.1:8101"),
        ({"SITE_URL": "https://cms.example.org/", "PORT": "8101"}, "https://cms.example.org"),
        ({"SITE_URL": "", "PORT": "8101"}, "http://localhost:8101"),
    ],
)
def test_site_url_is_set_or_follows_host_and_port(environ, expected):
    assert env.site_url(environ) == expected


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        ("localhost:8000", None, "HOST must be a host name or an IP address"),
        ("http://cms.local", None, "HOST must be a host name or an IP address"),
        ("cms local", None, "HOST must be a host name or an IP address"),
        (None, "eighty", "PORT must be a port number"),
        (None, "0", "PORT must be a port number"),
        (None, "65536", "PORT must be a port number"),
    ],
)
def test_a_host_or_port_that_cannot_be_served_is_refused(host, port, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        env.served_url(host, port)


def test_settings_take_every_absolute_address_from_host_and_port(tmp_path):
    """What `PORT=8101 make run` gives the settings: links, API, admin and hosts agree."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"SITE_URL", "FRONTEND_URL", "HOST", "PORT", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"}
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="penelope.settings",
        HOST="127.0.0.1",
        PORT="8101",
        DEBUG="0",
        VAR_DIR=str(tmp_path),
    )
    script = (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.SITE_URL, s.WAGTAILAPI_BASE_URL, s.WAGTAILADMIN_BASE_URL, s.ALLOWED_HOSTS, "
        "s.CSRF_TRUSTED_ORIGINS, s.FRONTEND_URL, s.FRONTEND_PREVIEW_URL]))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup(); " + script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    site, api, admin, hosts, origins, frontend, preview = json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    assert site == api == admin == "http://127.0.0.1:8101"
    # No external site configured: page links go to the CMS's own pages, and the preview
    # uses its templates (nothing else listens on another port).
    assert frontend == site and preview == ""
    assert hosts == ["127.0.0.1"] and origins == ["http://127.0.0.1:8101"]
