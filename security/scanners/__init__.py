"""Plain-Python security scanners: Bandit, Semgrep, detect-secrets, OSV matching, SBOM and SARIF.

Nothing here imports Django: `pipeline.scan_tree` takes a directory and returns `ScanReport`
findings with normalised severities and stable fingerprints; the `security` app stores them.
"""
