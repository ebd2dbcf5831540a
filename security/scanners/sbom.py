"""CycloneDX SBOMs (JSON, the newest spec version cyclonedx-python-lib writes), validated by its validator."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.tool import Tool
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from .manifests import Pin

SCHEMA = max(SchemaVersion, key=lambda v: v.value)  # newest the installed library knows
SPEC_VERSION = SCHEMA.to_version()


class SbomInvalid(ValueError):
    pass


def purl(name: str, version: str | None) -> str:
    return PackageURL(type="pypi", name=canonicalize_name(name), version=version or None).to_string()


def components(pins: Iterable[Pin]) -> list[dict[str, str]]:
    """One component per package and version (a package pinned in two files is listed once)."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for pin in pins:
        key = (pin.key, pin.version or "")
        if key not in seen:
            seen[key] = {"name": pin.key, "version": pin.version or "", "purl": purl(pin.name, pin.version),
                         "manifest": pin.manifest}  # fmt: skip
    return sorted(seen.values(), key=lambda c: (c["name"], c["version"]))


def build(pins: Iterable[Pin], *, subject: str, source: str) -> str:
    """The SBOM as CycloneDX JSON; `subject` names what it describes, `source` where packages came from."""
    bom = Bom()
    root = Component(name=subject, type=ComponentType.APPLICATION, bom_ref="subject")
    bom.metadata.component = root
    bom.metadata.tools.tools.add(Tool(vendor="Script Runner", name="script-runner", version=_own_version()))
    bom.metadata.properties.add(Property(name="script-runner:source", value=source))
    children = []
    for item in components(pins):
        component = Component(
            name=item["name"], version=item["version"] or None, type=ComponentType.LIBRARY,
            purl=PackageURL.from_string(item["purl"]), bom_ref=item["purl"],
        )  # fmt: skip
        bom.components.add(component)
        children.append(component)
    bom.register_dependency(root, children)
    text = make_outputter(bom, OutputFormat.JSON, SCHEMA).output_as_string(indent=2)
    validate(text)
    return text


def validate(text: str) -> None:
    error = JsonStrictValidator(SCHEMA).validate_str(text)
    if error is not None:
        raise SbomInvalid(f"the SBOM does not validate against CycloneDX {SPEC_VERSION}: {error}")


def _own_version() -> str:
    try:
        return metadata.version("script-runner")
    except metadata.PackageNotFoundError:
        return "0"
