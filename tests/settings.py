"""Test settings: the production module with a test secret and fast, isolated parts."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("SITE_URL", "https://cms.example.org")
os.environ.setdefault("FRONTEND_URL", "https://www.example.org")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="cms-tests-"))
os.environ.setdefault("ANYMAIL_WEBHOOK_SECRET", "hook:secret-for-tests")
if os.environ.get("INTEGRATION_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["INTEGRATION_DATABASE_URL"]
if os.environ.get("INTEGRATION_REDIS_URL"):
    os.environ["REDIS_URL"] = os.environ["INTEGRATION_REDIS_URL"]

from penelope.settings import *  # noqa: E402, F403

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
