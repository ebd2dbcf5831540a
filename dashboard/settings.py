"""Settings for Script Runner, driven only by environment variables.

No REDIS_URL: the embedded mode (SQLite, Huey on SQLite with consumer threads inside the
server, in-memory channel layer). With REDIS_URL: Huey on Redis, channels_redis, and any
number of `manage.py run_huey` workers and Daphne instances.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envsecret(name: str) -> str | None:
    """NAME, or the contents of the file named by NAME_FILE (for Docker/Kubernetes secrets)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


# pytest sets PYTEST_VERSION: tests get their own data dir, never the dashboard's own.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / ("data/test" if "PYTEST_VERSION" in os.environ else "data")))
DATA_DIR = DATA_DIR.resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The SECRET_KEY from the environment, else one generated once and kept in the data dir."""
    key = envsecret("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Written whole under a temporary name, then linked into place: a second process
        # starting at the same moment sees either no file or the complete key, never half.
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "channels",
    "dashboard",
    "workflows",
    "security",
    "costs",
    "tracing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.accounts.roles_context",
            ],
        },
    },
]

# ---------------------------------------------------------------- database

# WAL lets pages read while a run writes; IMMEDIATE takes the write lock at BEGIN so two
# writers queue on busy_timeout instead of failing a lock upgrade.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0), conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "runner.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
            # Kept open: a new connection reads the schema again (~1.5 ms here), and each run
            # would pay that on its worker's thread before its first task starts.
            "CONN_MAX_AGE": None,
            "TEST": {"NAME": str(DATA_DIR / "test-runner.sqlite3")},
        }
    }
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- queue and live events

REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not REDIS_URL
HUEY_WORKERS = envint("HUEY_WORKERS", 4)
if EMBEDDED:
    HUEY = {
        "huey_class": "workflows.queue.EmbeddedHuey",
        "name": "runner",
        "filename": str(DATA_DIR / os.environ.get("HUEY_FILENAME", "huey.sqlite3")),
        "results": False,
        "immediate": False,
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread"},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}
else:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": os.environ.get("HUEY_QUEUE", "runner"),
        "url": REDIS_URL,
        "blocking": True,
        "results": False,
        "immediate": False,
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread"},
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("CHANNELS_PREFIX", "runner")},
        }
    }

# A worker that has not written a heartbeat for this long is taken for dead and its runs resumed.
RUNNER_HEARTBEAT_SECONDS = envfloat("RUNNER_HEARTBEAT_SECONDS", 5.0)
RUNNER_HEARTBEAT_TIMEOUT = envfloat("RUNNER_HEARTBEAT_TIMEOUT", 60.0)
# Environment variables tasks inherit from the server (everything else, e.g. SECRET_KEY, stays out).
RUNNER_INHERIT_ENV = envlist(
    "RUNNER_INHERIT_ENV", "PATH,HOME,LANG,LANGUAGE,LC_ALL,LC_CTYPE,TZ,TMPDIR,USER,LOGNAME,SHELL,TERM"
)
# Apps that take part in every run (gates, secrets, tracing, costs): see workflows/extensions.py.
RUNNER_EXTENSIONS: list[str] = [
    "costs.extension.CostExtension",
    # Before the gate: a provider the workflow may not use fails the run before any scan or task.
    "security.secrets_extension.SecretsExtension",
    "security.gates.SecurityGate",
]
# Where a workflow without a `cost:` section is priced (provider:region:instance_type; empty: unpriced).
COST_DEFAULT_TARGET = os.environ.get("COST_DEFAULT_TARGET", "aws:us-east-1:m5.large")
RUNNER_WORKSPACES = Path(os.environ.get("RUNNER_WORKSPACES", DATA_DIR / "workspaces"))
# Tracing: OTEL_* and TRACING_* variables (tracing/otel/config.py); TRACING = {...} overrides them.
# Listed first, so its gates span covers the gates of the extensions after it.
if envbool("TRACING_ENABLED", True):
    RUNNER_EXTENSIONS.insert(0, "tracing.extension.TracingExtension")
TRACING: dict[str, object] = {}
# Fernet keys that encrypt secret providers' credentials, comma-separated, newest first (or a file
# with them: SECRET_ENCRYPTION_KEYS_FILE). Unset: one generated into DATA_DIR/secret_encryption_key.
SECRET_ENCRYPTION_KEYS = [key.strip() for key in (envsecret("SECRET_ENCRYPTION_KEYS") or "").split(",") if key.strip()]

# ---------------------------------------------------------------- auth

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["dashboard.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dashboard.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Script Runner API",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" with its own choices: give each enum its own name.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "workflows.models.Run.STATUSES",
        "TaskRunStatusEnum": "workflows.models.TaskRun.STATUSES",
        "AttemptStatusEnum": "workflows.models.TaskAttempt.STATUSES",
        "CatalogueKindEnum": "costs.models.CatalogueVersion.KINDS",
        "CostRecordStatusEnum": "costs.models.CostRecord.STATUSES",
        "BudgetScopeEnum": "costs.models.Budget.SCOPES",
        "BudgetPeriodEnum": "costs.models.Budget.PERIODS",
        "FindingStateEnum": "security.models.Finding.STATES",
        "FindingKindEnum": "security.models.Finding.KINDS",
        "ScanStatusEnum": "security.models.Scan.STATUSES",
        "GateStatusEnum": "security.models.GateCheck.STATUSES",
    },
}

# ---------------------------------------------------------------- security

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------- static, i18n, logging

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from static/ so a fresh clone needs no collectstatic

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "huey": {"level": os.environ.get("HUEY_LOG_LEVEL", "WARNING")},
        "runner": {"level": os.environ.get("LOG_LEVEL", "INFO")},
    },
}
