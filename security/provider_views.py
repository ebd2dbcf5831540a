"""Secret provider pages: the list (names for everyone who may see it), a provider (scope, which
runs read what, and for admins its settings and audit log), the form, delete, and "Test
connection" (of the form's values, unsaved, or of what is stored)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .crypto import CredentialsUnreadable
from .forms import ProviderForm, SecretWriteForm
from .models import ProviderChange, SecretProvider
from .providers import PROVIDER_KINDS, build_provider
from .providers.base import ProviderConfigError, ProviderError, SecretsError

log = logging.getLogger("runner.secrets")
READS_SHOWN = 100


@permission_required("security.view_secretprovider", raise_exception=True)
def provider_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    providers = SecretProvider.objects.all()
    detailed = user.has_perm("security.use_secretprovider")
    if detailed:
        providers = providers.annotate(last_read=Max("reads__read_at"))
    else:
        providers = providers.only("id", "name")  # viewers see names only
    context = {
        "providers": providers,
        "detailed": detailed,
        "can_add": user.has_perm("security.add_secretprovider"),
        "can_change": user.has_perm("security.change_secretprovider"),
    }
    return render(request, "security/provider_list.html", context)


@permission_required("security.use_secretprovider", raise_exception=True)
def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(SecretProvider, pk=pk)
    admin = request.user.has_perm("security.change_secretprovider")
    reads = provider.reads.select_related("run", "run__workflow", "taskrun").order_by("-read_at", "-id")
    context = {
        "provider": provider,
        "admin": admin,
        "reads": reads[:READS_SHOWN],
        "more_reads": reads.count() > READS_SHOWN,
        "workflows": [(w, provider.scope.allows(w.name, w.tags)) for w in provider.referencing_workflows()],
        "changes": provider.changes.select_related("user")[:200] if admin else [],
        "can_delete": request.user.has_perm("security.delete_secretprovider"),
    }
    return render(request, "security/provider_detail.html", context)


def _form_page(request: HttpRequest, form: ProviderForm, provider: SecretProvider | None, **extra: Any) -> HttpResponse:
    context = {"form": form, "provider": provider, "kinds": PROVIDER_KINDS, **extra}
    return render(request, "security/provider_form.html", context, status=400 if form.errors else 200)


@permission_required("security.add_secretprovider", raise_exception=True)
def provider_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProviderForm(request.POST)
        if form.is_valid():
            provider = form.save(request.user)
            messages.success(request, f"Secret provider {provider.name} created.")
            return redirect(provider.get_absolute_url())
    else:
        form = ProviderForm(initial={"kind": request.GET.get("kind") or "vault"})
    return _form_page(request, form, None)


@permission_required("security.change_secretprovider", raise_exception=True)
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(SecretProvider, pk=pk)
    if request.method == "POST":
        form = ProviderForm(request.POST, instance=provider)
        if form.is_valid():
            form.save(request.user)
            changed = ", ".join(form.changed) if form.changed else "nothing changed"
            messages.success(request, f"Secret provider {provider.name} saved ({changed}).")
            return redirect(provider.get_absolute_url())
    else:
        form = ProviderForm(instance=provider)
    return _form_page(request, form, provider)


@permission_required("security.delete_secretprovider", raise_exception=True)
def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(SecretProvider, pk=pk)
    if request.method == "POST":
        name = provider.name
        provider.delete_by(request.user)
        messages.success(request, f"Secret provider {name} deleted.")
        return redirect("provider-list")
    context = {"provider": provider, "workflows": provider.referencing_workflows()}
    return render(request, "security/provider_confirm_delete.html", context)


# ---------------------------------------------------------------------- test connection


def connection_result(kind: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    """{"ok", "message", "kind"}: the store's answer, or the exact cause it failed (never a value)."""
    provider = None
    try:
        provider = build_provider(kind, name, config)
        return {"ok": True, "message": provider.test_connection(), "kind": "ok"}
    except ProviderConfigError as exc:
        return {"ok": False, "message": str(exc), "kind": "config", "errors": exc.errors}
    except ProviderError as exc:
        return {"ok": False, "message": str(exc), "kind": exc.kind}
    except Exception as exc:  # noqa: BLE001 - shown as the cause
        return {"ok": False, "message": _cause(name, exc), "kind": "error"}
    finally:
        if provider is not None:
            provider.close()


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
def provider_test(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Test the form's values (a blank credential: the stored one), or, posted without a kind,
    what is stored. JSON for the page's script; without JavaScript, the form page again."""
    provider = get_object_or_404(SecretProvider, pk=pk) if pk is not None else None
    needed = "security.change_secretprovider" if provider else "security.add_secretprovider"
    if not request.user.has_perm(needed):
        raise PermissionDenied
    form = None
    if provider is not None and "kind" not in request.POST:
        try:
            result = connection_result(provider.kind, provider.name, provider.config())
        except CredentialsUnreadable as exc:
            result = {"ok": False, "message": f"{provider.name}: {exc}", "kind": "config"}
    else:
        form = ProviderForm(request.POST, instance=provider)
        if form.is_valid():
            result = connection_result(*form.candidate())
        else:
            fields = {name: "; ".join(errors) for name, errors in form.errors.items()}
            result = {"ok": False, "kind": "config", "errors": fields,
                      "message": "fix the highlighted fields first: " + "; ".join(
                          f"{form.fields[n].label if n in form.fields else n}: {m}" for n, m in fields.items())}  # fmt: skip
    if _wants_json(request):
        return JsonResponse(result)
    if form is None:
        (messages.success if result["ok"] else messages.error)(request, f"Test connection: {result['message']}")
        return redirect(provider.get_absolute_url())  # type: ignore[union-attr]
    # Without JavaScript: the form again (credentials are never rendered back, typed ones neither).
    return _form_page(request, form, provider, test_result=result)


# ---------------------------------------------------------------------- the picker, and writing


def _cause(name: str, exc: Exception) -> str:
    """What went wrong talking to a provider, never a value: our errors as they are, anything
    else by its type only (a library's own message may quote a response)."""
    if isinstance(exc, SecretsError):
        return str(exc)
    if isinstance(exc, CredentialsUnreadable):
        return f"{name}: {exc}"
    log.warning("secret provider %s: unexpected %s", name, type(exc).__name__)
    return f"{name}: unexpected {type(exc).__name__}"


@permission_required("security.use_secretprovider", raise_exception=True)
def provider_paths(request: HttpRequest, pk: int) -> HttpResponse:
    """The secret paths under a prefix, to pick a reference from (names only, never values);
    JSON for a script, else a page with folders to open and references to copy."""
    provider = get_object_or_404(SecretProvider, pk=pk)
    prefix = request.GET.get("prefix", "").lstrip("/")
    paths: list[str] = []
    error = ""
    store = None
    try:
        store = provider.build()
        paths = store.list_paths(prefix)
    except Exception as exc:  # noqa: BLE001 - shown to the user as the store's cause
        error = _cause(provider.name, exc)
    finally:
        if store is not None:
            store.close()
    if _wants_json(request):
        return JsonResponse({"prefix": prefix, "paths": paths, "error": error}, status=200 if not error else 502)
    parent = prefix.rstrip("/").rpartition("/")[0] + "/" if "/" in prefix.rstrip("/") else ""
    context = {"provider": provider, "prefix": prefix, "parent": parent, "error": error,
               "entries": [(p, p.endswith("/")) for p in paths], "admin": request.user.has_perm("security.change_secretprovider")}  # fmt: skip
    return render(request, "security/provider_paths.html", context)


@permission_required("security.change_secretprovider", raise_exception=True)
def provider_write(request: HttpRequest, pk: int) -> HttpResponse:
    """Admins store a new version of a secret (the value is sent once and never shown again)."""
    provider = get_object_or_404(SecretProvider, pk=pk)
    form = SecretWriteForm(request.POST or None, initial={"path": request.GET.get("path", "")})
    if request.method == "POST" and form.is_valid():
        path, key, value = form.cleaned_data["path"], form.cleaned_data["key"], form.cleaned_data["value"]
        store = None
        try:
            store = provider.build()
            version = store.write(path, {key: value} if key else value)
        except Exception as exc:  # noqa: BLE001 - shown to the admin as the store's cause
            form.add_error(None, _cause(provider.name, exc))
        else:
            where = f"{path}#{key}" if key else path
            ProviderChange.record(provider, request.user, ProviderChange.WROTE, [where])
            messages.success(request, f"Wrote {provider.name}:{where}" + (f" (version {version})." if version else "."))
            return redirect(provider.get_absolute_url())
        finally:
            if store is not None:
                store.close()
    return render(request, "security/provider_write.html", {"provider": provider, "form": form})
