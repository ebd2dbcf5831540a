"""The plain-Python pricing core: the dated price catalogue and the pricing of task attempts.

Nothing here imports Django (lint-imports enforces it): `catalogue` builds and looks up prices,
`shapes` knows vCPU and memory per instance type, `model` prices an attempt from its usage,
`whatif` finds the nearest equivalent instance on each cloud, `trend` marks cost regressions.
"""
