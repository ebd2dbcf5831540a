"""Secrets' part in every run: scope check before the tasks, values resolved into each attempt's
environment in the worker, and every value masked in everything the run stores or sends.

Before any task: every provider the workflow references must exist and allow this workflow (its
scope), or the run fails saying why. When an attempt starts: its `secrets:` are read through the
run's cache (SecretResolver) and become environment variables of that process only, never its
command line, the database or the queue; what was read (never a value) is stored as lineage and
shown on the run page. The run's Masker becomes part of the recorder's mask, so log lines,
outputs (kept, masked, with a warning), errors, reasons, span attributes and everything sent to
browsers, the API and the CLI hold `***` instead of a value.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from workflows.engine import executor as ex
from workflows.extensions import RunExtension, Stop

from . import crypto
from .models import SecretNotice, SecretProvider, SecretRead
from .providers import provider_class
from .providers.base import InvalidReference, Provider, SecretsError, parse_reference
from .providers.masking import Masker, RunMask
from .providers.resolve import (
    ResolutionError,
    SecretCache,
    SecretResolver,
    UnknownProviderError,
    check_scopes,
)

log = logging.getLogger("runner.secrets")


class SecretUnavailable(ex.AttemptRefused):
    """A secret an attempt needs could not be read: the attempt fails with this message."""


class SecretsExtension(RunExtension):
    name = "secrets"
    panel_template = "security/_secrets_panel.html"
    script = "js/secrets_run.js"

    def __init__(self, run: Any, plan: Any, recorder: Any):
        super().__init__(run, plan, recorder)
        # node id -> {variable: reference}; a run without secrets costs nothing more.
        self.references: dict[str, dict[str, str]] = {
            node_id: dict(node.task.secrets) for node_id, node in plan.nodes.items() if node.task.secrets
        }
        self.active = bool(self.references)
        if not self.active:
            return
        self.masker = Masker()
        self.cache = SecretCache()
        self.resolver = SecretResolver(self._provider, cache=self.cache, masker=self.masker)
        self.rows: dict[str, SecretProvider] = {}
        self.providers: dict[str, Provider | SecretsError] = {}
        self._lock = threading.Lock()
        recorder.mask = RunMask(self.masker, recorder.mask)

    # ---------------------------------------------------------------- before the tasks

    def before_tasks(self) -> Stop | None:
        if not self.active:
            return None
        spec = self.plan.spec
        # Written per task (a matrix task's legs share its references).
        references = {
            f"{task_id}.secrets.{env}": ref
            for task_id, task in spec.tasks.items()
            for env, ref in task.secrets.items()
            if any(node_id in self.references for node_id in self.plan.task_nodes.get(task_id, ()))
        }
        names = set()
        for text in references.values():
            try:
                names.add(parse_reference(text).provider)
            except InvalidReference:
                pass  # check_scopes reports it
        self.rows = {row.name: row for row in SecretProvider.objects.filter(name__in=names)}
        problems = check_scopes(references, {n: row.scope for n, row in self.rows.items()}, self.run.workflow.name,
                                self.run.tags or {})  # fmt: skip
        if problems:
            self._notify(None, 0, errors=problems)
            return Stop("; ".join(problems), status=ex.FAILED)
        for name, row in self.rows.items():
            # Built here, in the run's own thread (the executor's threads never touch the
            # database); a provider connects only when an attempt first reads from it.
            try:
                self.providers[name] = row.build()
            except SecretsError as exc:
                self.providers[name] = exc
            except crypto.CredentialsUnreadable as exc:
                message = f"secret provider {name!r}: {exc}"
                self._notify(None, 0, errors=[message])
                return Stop(message, status=ex.FAILED)
        return None

    @classmethod
    def warm_up(cls) -> None:
        """Import the client library of each kind of provider configured (boto3 alone takes
        ~0.25 s): otherwise a worker's first run that reads a secret waits for it."""
        for kind in SecretProvider.objects.order_by().values_list("kind", flat=True).distinct():
            try:
                provider_class(kind)
            except (ImportError, ValueError):  # a kind this install cannot serve: its runs will say so
                log.warning("secret provider kind %r could not be loaded", kind, exc_info=True)

    @classmethod
    def refuse_save(cls, workflow: Any, spec: Any, user: Any) -> str | None:
        """A provider's scope names the workflows (or tags) that may read its secrets; so only an
        admin may bring a workflow into a scope that is not open to all: create it with a name
        or tags the scope matches, or rename or re-tag one into it. Otherwise an operator could
        read production secrets by writing a workflow named like a production one."""
        if user.has_perm("security.change_secretprovider"):
            return None
        for row in SecretProvider.objects.only("name", "scope_workflows", "scope_tags"):
            scope = row.scope
            if "*" in scope.workflows:
                continue  # open to every workflow: nothing to keep out
            was_in = workflow is not None and scope.allows(workflow.name, workflow.tags or {})
            if scope.allows(spec.name, spec.tags or {}) and not was_in:
                what = "create a workflow" if workflow is None else "rename or re-tag a workflow"
                return (
                    f"workflow {spec.name!r} would be in the scope of secret provider {row.name!r} "
                    f"({scope.describe()}): only an admin may {what} into that scope"
                )
        return None

    def _provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise UnknownProviderError(name, None, f"no secret provider is named {name!r}")
        if isinstance(found, SecretsError):
            raise found
        return found

    # ---------------------------------------------------------------- each attempt

    def attempt_env(self, node_id: str, attempt: int) -> Mapping[str, str]:
        secrets = self.references.get(node_id) if self.active else None
        if not secrets:
            return {}
        try:
            resolved = self.resolver.resolve_env(secrets)
        except ResolutionError as exc:
            message = str(exc)  # names the variable, the reference and the cause; never a value
            self._notify(node_id, attempt, errors=[message])
            raise SecretUnavailable(message) from None
        except Exception as exc:
            # A client library's own message may quote what the store answered: name the type only.
            message = f"secrets of {node_id}: unexpected {type(exc).__name__} while reading them"
            log.error("%s (run %s)", message, self.run.pk)
            self._notify(node_id, attempt, errors=[message])
            raise SecretUnavailable(message) from None
        reads = [resolution.as_dict() for resolution in resolved.resolutions]
        self._notify(node_id, attempt, reads=reads, warnings=resolved.warnings)
        return resolved.env

    def _notify(
        self,
        node_id: str | None,
        attempt: int,
        *,
        reads: Sequence[dict[str, Any]] = (),
        warnings: Sequence[str] = (),
        errors: Sequence[str] = (),
    ) -> None:
        """Store lineage and notices (in the recorder's transaction) and send them to the run page;
        warnings and errors also go to the attempt's log."""
        run_id = self.run.pk
        task = self.recorder.tasks.get(node_id) if node_id else None
        taskrun_id = task["id"] if task else None
        provider_ids = {name: row.pk for name, row in self.rows.items()}
        # A provider's message quotes no value, but nothing stored is taken on trust: masked too.
        mask = self.recorder.mask
        notices = [(SecretNotice.WARNING, mask(text)) for text in warnings]
        notices += [(SecretNotice.ERROR, mask(text)) for text in errors]
        if node_id:
            for level, text in notices:
                self.recorder.system_line(node_id, attempt, f"{level}: {text}")

        def store() -> None:
            if reads and taskrun_id is not None:
                SecretRead.objects.bulk_create(
                    SecretRead(
                        run_id=run_id,
                        taskrun_id=taskrun_id,
                        attempt=attempt,
                        env=read["env"],
                        provider_id=provider_ids.get(read["provider"]),
                        provider_name=read["provider"],
                        path=read["path"],
                        key=read["key"],
                        requested_version=read["requested_version"],
                        version=read["version"],
                        cached=read["cached"],
                    )  # fmt: skip
                    for read in reads
                )
            if notices:
                SecretNotice.objects.bulk_create(
                    SecretNotice(run_id=run_id, taskrun_id=taskrun_id, attempt=attempt, level=level, message=text)
                    for level, text in notices
                )

        event = {
            "kind": "secrets",
            "reads": [{"node": node_id, "attempt": attempt, **read} for read in reads],
            "notices": [{"node": node_id or "", "attempt": attempt, "level": level, "message": text}
                        for level, text in notices],
        }  # fmt: skip
        self.recorder.emit(event, store=store)

    # ---------------------------------------------------------------- the end

    def after_run(self, outcome: ex.RunOutcome) -> None:
        if not self.active:
            return
        # The masker stays: the recorder still masks what it has not written yet.
        self.cache.clear()
        for provider in self.providers.values():
            if isinstance(provider, Provider):
                try:
                    provider.close()
                except Exception:
                    log.exception("closing secret provider %s", provider.name)

    # ---------------------------------------------------------------- the run page

    @classmethod
    def snapshot(cls, run_id: int) -> Any:
        reads = [read.as_dict() for read in SecretRead.objects.filter(run_id=run_id).select_related("taskrun")]
        notices = [n.as_dict() for n in SecretNotice.objects.filter(run_id=run_id).select_related("taskrun")]
        if not reads and not notices:
            return None
        return {"reads": reads, "notices": notices}
