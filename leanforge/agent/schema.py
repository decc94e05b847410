"""A small JSON Schema validator for the subset forge's tool schemas use.

Supported: ``type`` (object, array, string, boolean, integer, number), ``properties``,
``required``, ``additionalProperties: false``, ``items``, ``minItems``, ``minLength``,
``maxLength``, ``enum``.
Errors are sentences a model can act on, naming the field by its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def validate(schema: Mapping[str, Any], value: Any, where: str = "input") -> list[str]:
    """Every way ``value`` breaks ``schema``; empty when it conforms."""
    kind = schema.get("type")
    if kind is not None and not _type_ok(value, kind):
        return [f"{where} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not {_name(value)}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where} must be one of {', '.join(map(repr, schema['enum']))}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        errors.append(f"{where} must not be empty")
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(
            f"{where} must be at most {schema['maxLength']} characters (it has {len(value)})"
        )
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where} needs at least {schema['minItems']} item(s)")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(schema["items"], item, f"{where}[{i}]")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(f"{where}.{name} is required")
        for name, item in value.items():
            if name in properties:
                errors += validate(properties[name], item, f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(
                    f"{where}.{name} is not allowed (allowed: {', '.join(properties) or 'none'})"
                )
    return errors


def _name(value: Any) -> str:
    if value is None:
        return "null"
    for kind in _TYPES:
        if _type_ok(value, kind):
            return kind
    return type(value).__name__
