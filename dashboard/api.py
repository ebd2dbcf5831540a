"""API plumbing shared by every app: errors always come back as 4xx JSON with a message."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger("runner.api")


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": "; ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None:
        if isinstance(response.data, dict) and "detail" not in response.data:
            response.data = {"detail": _summary(response.data), "errors": response.data}
        elif isinstance(response.data, list):
            response.data = {"detail": "; ".join(map(str, response.data)), "errors": response.data}
        return response
    if isinstance(exc, RecursionError):
        # DRF's JSON parser (and YAML/JSON loaders) recurse per level: a deeply nested body lands here.
        log.info("request too deeply nested: %s", exc)
        return Response({"detail": "the request is nested too deeply"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, (ValueError, KeyError, TypeError, Http404)):
        # Bad input that got past validation: the client's fault, said plainly, never a 500.
        log.info("bad request: %r", exc)
        return Response({"detail": str(exc) or exc.__class__.__name__}, status=status.HTTP_400_BAD_REQUEST)
    return None


def _summary(errors: dict) -> str:
    parts = []
    for field, problems in errors.items():
        text = "; ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
        parts.append(text if field == "non_field_errors" else f"{field}: {text}")
    return "; ".join(parts)
