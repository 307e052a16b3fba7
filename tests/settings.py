"""Test settings: the production module with a test secret and fast, isolated parts."""

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("SITE_URL", "https://cms.example.org")
os.environ.setdefault("FRONTEND_URL", "https://www.example.org")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="cms-tests-"))
os.environ.setdefault("ANYMAIL_WEBHOOK_SECRET", "hook:secret-for-tests")
if os.environ.get("INTEGRATION_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["INTEGRATION_DATABASE_URL"]
if os.environ.get("INTEGRATION_REDIS_URL"):
    os.environ["REDIS_URL"] = os.environ["INTEGRATION_REDIS_URL"]
    # pytest-xdist: each worker process (gw0, gw1, …) takes the next Redis database, so
    # one worker's cache.clear() (FLUSHDB) or queued tasks never reach another's.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        parts = urlsplit(os.environ["REDIS_URL"])
        db = int(parts.path.strip("/") or 0) + int(worker[2:])
        if db > 15:
            raise RuntimeError(f"no Redis database left for pytest-xdist worker {worker}")
        os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{db}"))

from penelope.settings import *  # noqa: E402, F403

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns when it is missing
