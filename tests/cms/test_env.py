from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cms import env


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
        "EMAIL_BACKEND": "cms.mail.CatcherBackend",
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


def test_production_settings_refuse_to_start_without_secret_key():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import cms.settings"],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "0", "PYTHONPATH": "."},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_catcher_backend_writes_eml_files(tmp_path, settings):
    from django.core.mail import EmailMultiAlternatives, get_connection

    connection = get_connection("cms.mail.CatcherBackend", file_path=tmp_path)
    message = EmailMultiAlternatives(
        "Hello", "text body", "a@example.org", ["b@example.org"], connection=connection
    )
    message.attach_alternative("<p>html body</p>", "text/html")
    assert message.send() == 1
    (eml,) = tmp_path.glob("*.eml")
    raw = eml.read_text()
    assert "Subject: Hello" in raw and "text/html" in raw
