"""The one settings module: every value comes from the environment, defaults are safe.

Development conveniences (a throw-away SECRET_KEY, localhost hosts) switch on only
with DEBUG=1, which `make run` sets. See the settings table in the README.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from penelope import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

DEBUG = env.env_bool("DEBUG", False)

# Set it in production (and the same on every machine); otherwise a random key is made
# once for this installation and kept in var/secret_key.
SECRET_KEY = env.secret_key(os.environ.get("SECRET_KEY"), VAR_DIR / "secret_key")

# Unset: the address HOST and PORT serve (http://localhost:8000 when those are unset too).
SITE_URL = env.site_url(os.environ)
# Unset: the CMS's own pages (its templates render every page), so a fresh install links
# only to what it serves; set it to the external site's address when there is one.
FRONTEND_URL = (os.environ.get("FRONTEND_URL") or SITE_URL).rstrip("/")

_site_host = urlsplit(SITE_URL).hostname or "localhost"
ALLOWED_HOSTS = env.env_list("ALLOWED_HOSTS", [_site_host])
if DEBUG:
    ALLOWED_HOSTS += ["localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    # The project package: settings, URLs, the demo seed of every app (no models).
    "penelope",
    "cms",
    "interviews",
    "newsletters",
    "mailing",
    "wagtail_headless_preview",
    "wagtail_localize",
    "wagtail_localize.locales",
    "wagtail.api.v2",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_countries",
    "django_filters",
    "rest_framework",
    "corsheaders",
    "anymail",
    "django_q",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "penelope.urls"
WSGI_APPLICATION = "penelope.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

DATABASES = {
    "default": env.database_config(
        os.environ.get("DATABASE_URL", "sqlite:///var/db.sqlite3"), BASE_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "cms.User"

REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = env.cache_config(REDIS_URL)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Enabled languages, the first being the source of the content (the default locale).
LANGUAGES = env.languages(os.environ.get("LANGUAGES"))
# British English spelling and dates when the source is English.
LANGUAGE_CODE = "en-gb" if LANGUAGES[0][0] == "en" else LANGUAGES[0][0]
# The translations of everything a subscriber reads (locale/<code>/LC_MESSAGES/django.po,
# compiled to .mo by `make install`).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security: strict by default, relaxed only where DEBUG needs it.
SESSION_COOKIE_SECURE = SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "SAMEORIGIN"

# E-mail
EMAIL_SETTINGS = env.email_config(
    os.environ.get("EMAIL_URL"), os.environ.get("ANYMAIL_ESP"), VAR_DIR / "mail"
)
globals().update(EMAIL_SETTINGS)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PENELOPE <newsletter@example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = env.anymail_config(os.environ)
NEWSLETTER_SENDER_NAME = os.environ.get("NEWSLETTER_SENDER_NAME", "PENELOPE")
# Bulk-mail rules (CAN-SPAM, GDPR good practice) want the sender's postal address.
NEWSLETTER_POSTAL_ADDRESS = os.environ.get(
    "NEWSLETTER_POSTAL_ADDRESS", "PENELOPE project, Avenue des Arts 1, 1000 Brussels, Belgium"
)

# Background work: django-q2
Q_CLUSTER = env.q_cluster_config(
    REDIS_URL,
    workers=env.env_int("Q_WORKERS", 2),
    timeout=env.env_int("Q_TIMEOUT", 300),
)

# CORS for the external sites (API and signup form)
CORS_ALLOWED_ORIGINS = env.env_list("CORS_ALLOWED_ORIGINS", [FRONTEND_URL])
CORS_URLS_REGEX = r"^/api/.*$"

# Wagtail
WAGTAIL_SITE_NAME = os.environ.get("WAGTAIL_SITE_NAME", "PENELOPE")
WAGTAILADMIN_BASE_URL = SITE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Documents go out only through Wagtail's view (`/documents/<id>/<name>`), which checks the
# collection's privacy; MEDIA_ROOT/documents/ is never served (cms.media).
WAGTAILDOCS_SERVE_METHOD = "serve_view"
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "pptx", "txt", "xlsx", "zip"]
WAGTAILIMAGES_MAX_UPLOAD_SIZE = 20 * 1024 * 1024
# Pages and snippets per locale; editors translate with wagtail-localize (PO files or the
# in-admin editor, no machine translation service needed).
WAGTAIL_I18N_ENABLED = True
# "Translate this page" starts a draft translation; the editor publishes it once it is
# translated (wagtail-localize's default would publish the untranslated copy at once).
WAGTAILLOCALIZE_SYNC_LIVE_STATUS_ON_TRANSLATE = False
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAILAPI_BASE_URL = SITE_URL
WAGTAILAPI_LIMIT_MAX = 100
TAGGIT_CASE_INSENSITIVE = True
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Draft preview: on the external site's preview route when there is one (wagtail-headless-
# preview, with a signed token), else with the CMS's own page templates (cms.models.
# PreviewMixin). The route defaults to FRONTEND_URL/preview when FRONTEND_URL is set.
FRONTEND_PREVIEW_URL = os.environ.get(
    "FRONTEND_PREVIEW_URL", f"{FRONTEND_URL}/preview" if "FRONTEND_URL" in os.environ else ""
).rstrip("/")
WAGTAIL_HEADLESS_PREVIEW = {
    "CLIENT_URLS": {"default": FRONTEND_PREVIEW_URL or f"{FRONTEND_URL}/preview"},
    "SERVE_BASE_URL": FRONTEND_URL,
    # Wagtail 7.1+ loads a redirect in its preview panel (scroll restoration, checks).
    "REDIRECT_ON_PREVIEW": True,
    "ENFORCE_TRAILING_SLASH": True,
}
PREVIEW_TOKEN_MAX_AGE = env.env_int("PREVIEW_TOKEN_MAX_AGE", 3600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "wagtail": {"level": "WARNING"},
        "django_q": {"level": "WARNING" if not DEBUG else "INFO"},
    },
}

# --- subscribers ---
# Double opt-in links expire; unsubscribe and preferences links do not.
SUBSCRIPTION_CONFIRM_MAX_AGE = env.env_int("SUBSCRIPTION_CONFIRM_MAX_AGE", 7 * 24 * 3600)
# Unconfirmed signups older than this are deleted with their personal data (mailing.retention).
SUBSCRIPTION_PENDING_MAX_AGE = env.env_int("SUBSCRIPTION_PENDING_MAX_AGE", 30 * 24 * 3600)
# Signup rate limits (Django cache; shared by every web process when REDIS_URL is set):
# attempts per IP address, and confirmation emails per address, in each window.
SUBSCRIPTION_RATE_WINDOW = env.env_int("SUBSCRIPTION_RATE_WINDOW", 3600)
SUBSCRIPTION_RATE_PER_IP = env.env_int("SUBSCRIPTION_RATE_PER_IP", 20)
SUBSCRIPTION_RATE_PER_ADDRESS = env.env_int("SUBSCRIPTION_RATE_PER_ADDRESS", 3)
# The request header holding the client's IP: REMOTE_ADDR, or e.g. HTTP_X_REAL_IP when a
# trusted reverse proxy sets it.
SUBSCRIPTION_CLIENT_IP_HEADER = os.environ.get("SUBSCRIPTION_CLIENT_IP_HEADER", "REMOTE_ADDR")
# Where admin uploads wait for the worker and their reports stay (web and worker share it).
SUBSCRIPTION_IMPORT_DIR = Path(os.environ.get("SUBSCRIPTION_IMPORT_DIR", VAR_DIR / "imports"))

# --- api ---
# Content API for external sites: page size, HTTP caching, publish webhooks.
WAGTAILAPI_LIMIT_MAX = env.env_int("API_LIMIT_MAX", 100)
API_CACHE_TIMEOUT = env.env_int("API_CACHE_TIMEOUT", 300)  # rendered responses; 0 = off
API_CACHE_CONTROL = os.environ.get(
    "API_CACHE_CONTROL", "public, max-age=60, s-maxage=300, stale-while-revalidate=600"
)
API_TIME_BUCKET_SECONDS = 300  # how long "upcoming" answers may lag the clock
CONTENT_WEBHOOK_URLS = env.env_list("CONTENT_WEBHOOK_URLS", [])
CONTENT_WEBHOOK_SECRET = os.environ.get("CONTENT_WEBHOOK_SECRET", "")
if CONTENT_WEBHOOK_URLS and not CONTENT_WEBHOOK_SECRET and not DEBUG:
    raise ImproperlyConfigured("CONTENT_WEBHOOK_SECRET must be set with CONTENT_WEBHOOK_URLS.")
CONTENT_WEBHOOK_MAX_ATTEMPTS = env.env_int("CONTENT_WEBHOOK_MAX_ATTEMPTS", 6)
CONTENT_WEBHOOK_BACKOFF = env.env_int("CONTENT_WEBHOOK_BACKOFF", 30)  # seconds, doubles
CONTENT_WEBHOOK_TIMEOUT = env.env_int("CONTENT_WEBHOOK_TIMEOUT", 10)
# Front ends revalidate with conditional requests and read the validators back.
from corsheaders.defaults import default_headers  # noqa: E402

CORS_ALLOW_HEADERS = (
    *default_headers,
    "if-none-match",
    "if-modified-since",
)
CORS_EXPOSE_HEADERS = ["ETag", "Last-Modified"]

# --- sending ---
# Campaign pipeline (mailing/sending/): recipients leased per chunk, a lease expires
# (and returns to the queue) when its worker dies, transient failures retry with backoff.
SENDING_CHUNK_SIZE = env.env_int("SENDING_CHUNK_SIZE", 500)
SENDING_LEASE_SECONDS = env.env_int("SENDING_LEASE_SECONDS", 300)
SENDING_CONCURRENCY = env.env_int("SENDING_CONCURRENCY", Q_CLUSTER["workers"])
SENDING_RATE_LIMIT = env.env_int("SENDING_RATE_LIMIT", 0)  # messages/s per campaign, 0: none
SENDING_MAX_ATTEMPTS = env.env_int("SENDING_MAX_ATTEMPTS", 5)
SENDING_RETRY_SECONDS = env.env_int("SENDING_RETRY_SECONDS", 60)  # doubled at each attempt
SENDING_TASK_SECONDS = env.env_int("SENDING_TASK_SECONDS", 120)  # then the task re-enqueues
SENDING_ESP_BATCH_SIZE = env.env_int("SENDING_ESP_BATCH_SIZE", 500)  # recipients per ESP call
# Raw SMTP: connections per sender, one message in flight on each; their outcomes are
# written together. A killed worker repeats at most one message per connection.
SENDING_SMTP_CONNECTIONS = env.env_int("SENDING_SMTP_CONNECTIONS", 1)
SENDING_TEST_MAX_RECIPIENTS = env.env_int("SENDING_TEST_MAX_RECIPIENTS", 10)  # per test send
# A sender re-reads the campaign's status (pause, cancel) after this many messages at most.
SENDING_STATUS_CHECK_EVERY = env.env_int("SENDING_STATUS_CHECK_EVERY", 10)

# --- bounces ---
# mailing/bounces.py: hard bounces suppress at once, soft bounces (full mailbox, a server
# down) only when this many messages bounced softly within the window; complaints always
# suppress; a receiver's policy block is recorded only. 0 turns a threshold off.
BOUNCE_HARD_THRESHOLD = env.env_int("BOUNCE_HARD_THRESHOLD", 1)
BOUNCE_SOFT_THRESHOLD = env.env_int("BOUNCE_SOFT_THRESHOLD", 3)
BOUNCE_SOFT_WINDOW_DAYS = env.env_int("BOUNCE_SOFT_WINDOW_DAYS", 30)

# --- click and open tracking ---
# mailing/links.py, mailing/hits.py: clicks and opens are queued (Redis list with
# REDIS_URL, else spool files here) and stored in batches by the worker every minute,
# or once this many are queued.
TRACKING_SPOOL_DIR = Path(os.environ.get("TRACKING_SPOOL_DIR", VAR_DIR / "tracking"))
TRACKING_FLUSH_EVERY = env.env_int("TRACKING_FLUSH_EVERY", 500)
# Image loads from these networks without a browser's user agent are proxies (Apple
# Mail Privacy Protection), counted apart from opens.
TRACKING_MACHINE_OPEN_NETWORKS = env.env_list("TRACKING_MACHINE_OPEN_NETWORKS", ["17.0.0.0/8"])

# --- bounces without an ESP ---
# Envelope sender with a signed token per delivery (VERP): bounces@x → bounces+<token>@x.
# Unset: the From address, as before (bounces then go wherever the From address reads).
BOUNCE_ADDRESS = os.environ.get("BOUNCE_ADDRESS", "").strip()
if BOUNCE_ADDRESS and (BOUNCE_ADDRESS.count("@") != 1 or "+" in BOUNCE_ADDRESS):
    raise ImproperlyConfigured("BOUNCE_ADDRESS must be one plain address, e.g. bounces@example.org")
# Where the bounces arrive, read by mailing/bounce_mailbox.py on the worker's schedule and
# by `manage.py process_bounces`: imap[s]://, pop3[s]://user:pass@host[:port]/FOLDER or
# maildir:///path. Unset: nothing is read.
BOUNCE_MAILBOX = os.environ.get("BOUNCE_MAILBOX", "").strip()
# A DSN that names only the failed address matches a delivery sent within these days.
BOUNCE_MATCH_DAYS = env.env_int("BOUNCE_MATCH_DAYS", 14)
# One scheduled read of the mailbox stops after this (below Q_TIMEOUT); the next goes on.
BOUNCE_TASK_SECONDS = env.env_int("BOUNCE_TASK_SECONDS", 120)
