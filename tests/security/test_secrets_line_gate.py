"""Our detect-secrets pass looks only at the lines some plugin's pattern can match (`LineGate`): it must
find exactly what detect-secrets' own `scan_file` finds, secret for secret and in the same order, on
secrets of every default plugin in many file types and on a slice of a real tree, while skipping most
lines of real code."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import django as django_package
import pytest
from detect_secrets.core import scan
from detect_secrets.settings import default_settings, get_plugins

from security.scanners.detect_secrets import DetectSecrets
from security.scanners.files import read_files, walk
from security.scanners.secrets_lines import LineGate

ALNUM = string.ascii_letters + string.digits


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def jwt(rng: random.Random) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': pick(rng, ALNUM, 8)})}.{pick(rng, ALNUM, 30)}"


def planted_values(rng: random.Random) -> list[str]:
    """A value each default plugin finds (made here at random: this repository holds no secret)."""
    lower_hex = "0123456789abcdef"
    return [
        "AKIA" + pick(rng, string.ascii_uppercase + string.digits, 16),
        "ghp_" + pick(rng, ALNUM, 36),
        "glpat-" + pick(rng, ALNUM, 24),
        "xoxb-" + pick(rng, string.digits, 11) + "-" + pick(rng, lower_hex, 24),
        "sk_live_" + pick(rng, ALNUM, 24),
        "SG." + pick(rng, ALNUM, 22) + "." + pick(rng, ALNUM, 43),
        "AC" + pick(rng, lower_hex, 32),
        pick(rng, lower_hex, 32) + "-us12",
        "sq0csp-" + pick(rng, ALNUM, 43),
        pick(rng, string.digits, 9) + ":" + pick(rng, ALNUM, 35),
        "AccountKey=" + pick(rng, ALNUM, 86) + "==",
        "AKC" + pick(rng, ALNUM, 20),
        "pypi-AgEIcHlwaS5vcmc" + pick(rng, ALNUM, 80),
        "sk-" + pick(rng, ALNUM, 20) + "T3BlbkFJ" + pick(rng, ALNUM, 20),
        "https://admin:" + pick(rng, ALNUM, 12) + "@db.example.com/",
        "//registry.npmjs.org/:_authToken=npm_" + pick(rng, ALNUM, 36),
        "-----BEGIN RSA PRIVATE KEY-----",
        jwt(rng),
        "8.8.4." + str(rng.randint(1, 254)),
        "M" + pick(rng, ALNUM, 23) + "." + pick(rng, ALNUM, 6) + "." + pick(rng, ALNUM, 27),
        "https://api.softlayer.com/soap/v3/" + pick(rng, string.ascii_lowercase + string.digits, 64),
        "https://acct:" + pick(rng, lower_hex, 64) + "@acct.cloudant.com",
    ]


def assignments(rng: random.Random) -> list[str]:
    """Plugins that want a name before the value."""
    return [
        f'ibm_cloud_iam_api_key = "{pick(rng, ALNUM, 44)}"',
        f'ibm_cos_hmac_secret_access_key = "{pick(rng, "0123456789abcdef", 48)}"',
        f'cloudant_password = "{pick(rng, "0123456789abcdef", 64)}"',
        f'softlayer_api_key = "{pick(rng, string.ascii_lowercase + string.digits, 64)}"',
    ]


def planted_lines(rng: random.Random) -> list[str]:
    lines = assignments(rng)
    for value in planted_values(rng):
        lines += [f'token = "{value}"', f"    {value}   ", f"x = 1  # {value} pragma: allowlist secret"]
    for length in range(18, 30):  # around the base64 plugin's 2**4.5 characters
        lines.append(f'blob = "{pick(rng, ALNUM + "+/", length)}"')
    for length in range(5, 12):  # around the hex plugin's 2**3, digits only and not
        lines += [f"h = '{pick(rng, '0123456789abcdef', length)}'", f"n = '{pick(rng, string.digits, length)}'"]
    for name in ("password", "db_pass", "API_KEY", "client_secret", "contraseña", "pwd"):
        value = pick(rng, ALNUM, 14)
        lines += [f'{name} = "{value}"', f"{name}: {value}", f'{name} := "{value}"', f'char {name}[] = "{value}";',
                  f'"{value}" == {name}', f'{name}("{value}");', f"{name}={value}", f'{name} => "{value}"']  # fmt: skip
    lines += ["# pragma: allowlist nextline secret", f'password = "{pick(rng, ALNUM, 14)}"', "", "   ", "plain text"]
    rng.shuffle(lines)
    return lines


def found(gate_or_scan, path: str) -> list[tuple]:
    return [(s.type, s.secret_hash, s.line_number, s.is_verified) for s in gate_or_scan(path)]


@pytest.fixture
def detect_secrets_defaults():
    with default_settings():
        yield LineGate()


def test_planted_secrets_of_every_plugin_in_many_file_types_are_found_as_detect_secrets_finds_them(
    tmp_path, monkeypatch, detect_secrets_defaults
):
    gate = detect_secrets_defaults
    rng = random.Random(7)
    monkeypatch.chdir(tmp_path)
    names = ["settings.py", "main.go", "App.java", "main.c", "lib.cpp", "conf.yaml", "setup.cfg", "app.ini",
             "app.properties", "infra.tf", "notes.txt", "page.js", ".env"]  # fmt: skip
    kinds: set[str] = set()
    for name in names:
        lines = planted_lines(rng)
        if name == "conf.yaml":  # detect-secrets reads YAML through its transformer
            lines = [f"key{i}: {json.dumps(line)}" for i, line in enumerate(lines)]
        if name == "setup.cfg":
            lines = ["[section]", *(f"key{i} = {line}" for i, line in enumerate(lines) if line.strip())]
        ending = "\r\n" if name == "main.c" else "\n"
        Path(name).write_text(ending.join(lines) + ending, encoding="utf-8")
        theirs = found(scan.scan_file, name)
        assert found(gate.scan_file, name) == theirs, name
        kinds |= {kind for kind, *_ in theirs}
    # Its default filters drop values without a letter, so detect-secrets never reports a public IP.
    everything = {type(plugin).secret_type for plugin in get_plugins()} - {"Public IP (ipv4)"}
    assert kinds == everything, f"plugins that found nothing: {sorted(everything - kinds)}"


def test_a_slice_of_a_real_tree_gives_what_detect_secrets_gives_while_most_lines_are_skipped(
    monkeypatch, detect_secrets_defaults
):
    gate = detect_secrets_defaults
    tree = Path(django_package.__path__[0])
    monkeypatch.chdir(tree)
    checker = DetectSecrets()
    every = sorted(p for p, f in read_files(tree, walk(tree)).items() if checker.applies(f))
    # A twelfth of the tree, and django.contrib.auth, which holds lines detect-secrets reports.
    files = sorted(set(every[::12]) | {p for p in every if p.startswith("contrib/auth/")})
    total = candidates = secrets = 0
    for path in files:
        theirs = found(scan.scan_file, path)
        assert found(gate.scan_file, path) == theirs, path
        secrets += len(theirs)
        lines = [line.rstrip() for line in open(path, encoding="utf-8", errors="replace")]
        total += len(lines)
        candidates += len(gate.candidates(path, lines))
    assert len(files) > 150 and total > 30_000
    assert secrets > 0, "the slice should hold something detect-secrets reports"
    assert candidates < total / 4, f"{candidates} of {total} lines went through every plugin"


def test_a_plugin_the_gate_cannot_reason_about_makes_every_line_a_candidate(detect_secrets_defaults):
    class Custom:
        def analyze_line(self, **kwargs):
            return set()

    gate = LineGate([*get_plugins(), Custom()])
    assert gate.candidates("x.py", ["a", "b", "c"]) == [0, 1, 2]
    assert detect_secrets_defaults.candidates("x.py", ["a", "b", "c"]) == []


def test_the_worker_falls_back_to_scan_file_where_the_gate_is_not_supported(tmp_path, monkeypatch):
    from security.scanners import secrets_worker

    rng = random.Random(11)
    (tmp_path / "settings.py").write_text("\n".join(planted_lines(rng)) + "\n")
    (tmp_path / "clean.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)  # the worker changes directory: put it back afterwards
    gated = secrets_worker.scan_files(str(tmp_path), ["settings.py", "clean.py"], None)
    monkeypatch.setattr(LineGate, "supported", staticmethod(lambda: False))
    monkeypatch.setattr(LineGate, "scan_file", lambda *_: pytest.fail("the gate was used where unsupported"))
    plain = secrets_worker.scan_files(str(tmp_path), ["settings.py", "clean.py"], None)
    assert gated == plain and len(gated["results"]["settings.py"]) > 20 and gated["results"]["clean.py"] == []
