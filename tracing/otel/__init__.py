"""The plain-Python core of tracing: span records, sampling, OpenTelemetry set-up and Zipkin parsing.

Nothing here imports Django or the apps (lint-imports enforces it); the `tracing` app stores,
publishes and renders what these modules produce.
"""
