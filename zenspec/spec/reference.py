"""The spec reference (docs/spec-reference.md), generated from the schema's descriptions.

``zenspec schema --markdown`` prints it; a test fails when the checked-in file
differs, so the reference cannot drift from the schema.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from zenspec.spec.schema import load_schema

__all__ = ["render_markdown"]

_TYPES = {"object": "table", "array": "list", "null": "null (YAML)"}


def _deref(schema: Dict[str, Any], root: Dict[str, Any]) -> Dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", [])) == 1 and "$ref" in schema["allOf"][0]:
        ref = schema["allOf"][0]["$ref"]
    if ref:
        return root["definitions"][ref.rsplit("/", 1)[-1]]
    return schema


def _type(schema: Dict[str, Any], root: Dict[str, Any]) -> str:
    target = _deref(schema, root)
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" if v is not None else "null" for v in schema["enum"])
    if target is not schema and target.get("title"):
        return target["title"]
    if "anyOf" in target:
        return " or ".join(b.get("title", "?") for b in target["anyOf"])
    types = target.get("type")
    if types is None:
        return target.get("title", "any")
    types = [types] if isinstance(types, str) else types
    return " or ".join(_TYPES.get(t, t) for t in types)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rows(
    props: Dict[str, Any], prefix: str, root: Dict[str, Any], note: Optional[str] = None
) -> List[str]:
    rows = []
    for key, sub in props.items():
        description = sub.get("description", "")
        if description == "See above.":
            continue
        name = f"{prefix}{key}"
        extra = f" ({note})" if note else ""
        rows.append(f"| `{name}` | {_type(sub, root)} | {_one_line(description)}{extra} |")
        if isinstance(sub.get("properties"), dict) and sub.get("type") == "object":
            rows.extend(_rows(sub["properties"], f"{name}.", root))
    return rows


def _conditional(schema: Dict[str, Any], prefix: str, root: Dict[str, Any]) -> List[str]:
    rows = []
    for branch in schema.get("allOf", []):
        kind = (
            branch.get("if", {}).get("properties", {}).get("kind", {}).get("const")
            if isinstance(branch, dict)
            else None
        )
        then = branch.get("then", {}) if isinstance(branch, dict) else {}
        if kind and then.get("properties"):
            rows.extend(_rows(then["properties"], prefix, root, note=f'with kind = "{kind}"'))
    return rows


def render_markdown(schema: Optional[Dict[str, Any]] = None) -> str:
    """The reference of every spec key, as Markdown."""
    root = schema or load_schema()
    out = [
        "# Spec reference",
        "",
        "<!-- Generated from schemas/zenspec.schema.json by `zenspec schema --markdown`. "
        "Do not edit: change the schema's descriptions and regenerate. -->",
        "",
        _one_line(root["description"]),
        "",
        "Specs are TOML or YAML with the same keys. Editors validate and complete them "
        "from the schema: put `#:schema ../schemas/zenspec.schema.json` at the top of a "
        "TOML spec (Taplo / Even Better TOML), or "
        "`# yaml-language-server: $schema=../schemas/zenspec.schema.json` in YAML.",
    ]
    required = set(root.get("required", []))
    for section, sub in root["properties"].items():
        out += ["", f"## `{section}`" + (" (required)" if section in required else ""), ""]
        out += [_one_line(sub["description"]), ""]
        rows = []
        if isinstance(sub.get("properties"), dict):
            rows += _rows(sub["properties"], f"{section}.", root)
        rows += _conditional(sub, f"{section}.", root)
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("description"):
            rows.append(f"| `{section}.<key>` | {_type(extra, root)} | {_one_line(extra['description'])} |")  # fmt: skip
        if rows:
            out += ["| key | type | description |", "|---|---|---|", *rows]
    out += ["", "## Value types", ""]
    out += ["| name | description |", "|---|---|"]
    for name, sub in root["definitions"].items():
        out.append(f"| {sub.get('title', name)} | {_one_line(sub.get('description', ''))} |")
    return "\n".join(out) + "\n"
