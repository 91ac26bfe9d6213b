"""Reading a SAM/CloudFormation template and resolving its intrinsic functions.

Nothing here talks to AWS: the resolver asks a callback for the physical id and attributes of
resources, so the deployer decides when (and whether) a resource is created.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

#: Marker for ``Ref: AWS::NoValue``; removed from the enclosing dict or list after resolution.
NO_VALUE = object()

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
#: The intrinsics that compute a condition, resolved apart from those that compute a value.
_CONDITION_FUNCTIONS = frozenset({"Condition", "Fn::If", "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"})


class TemplateError(Exception):
    """The template uses something the harness cannot resolve."""


# libyaml's parser when installed: the template is parsed at every LocalApp start.
class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that understands CloudFormation's short-form tags (``!Ref``, ``!Sub``...)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = (
        "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
    )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_document(text: str) -> Any:
    """Parse JSON or YAML (with CloudFormation tags); a fresh copy each time, parsed once."""
    return copy.deepcopy(_parse(text))


@lru_cache(maxsize=16)
def _parse(text: str) -> Any:
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Template:
    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> Template:
        path = Path(path).resolve()
        body = load_document(path.read_text())
        if not isinstance(body, dict) or "Resources" not in body:
            raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
        return cls(path=path, body=body)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Resources") or {})

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Parameters") or {})

    @property
    def conditions(self) -> dict[str, Any]:
        return dict(self.body.get("Conditions") or {})

    @property
    def mappings(self) -> dict[str, Any]:
        return dict(self.body.get("Mappings") or {})

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Outputs") or {})

    def globals_for(self, section: str) -> dict[str, Any]:
        return dict((self.body.get("Globals") or {}).get(section) or {})


#: ``(logical_id, attribute or None for Ref) -> value``
ResourceLookup = Callable[[str, str | None], Any]


@dataclass
class Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and resources."""

    template: Template
    lookup: ResourceLookup
    region: str
    account_id: str
    stack_name: str
    parameter_overrides: Mapping[str, Any] = field(default_factory=dict)
    _parameters: dict[str, Any] = field(init=False, default_factory=dict)
    _conditions: dict[str, bool] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._parameters = self._parameter_values()

    # -- parameters and conditions ---------------------------------------------------------------

    def _parameter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        unknown = set(self.parameter_overrides) - set(self.template.parameters)
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
        for name, spec in self.template.parameters.items():
            if name in self.parameter_overrides:
                value = self.parameter_overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList":
                value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
            elif not isinstance(value, str):
                value = str(value)
            values[name] = value
        return values

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._parameters)

    @property
    def pseudo_parameters(self) -> dict[str, str]:
        partition = "aws-cn" if self.region.startswith("cn-") else "aws"
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{partition}:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        }

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(self.template.conditions[name]))
        return self._conditions[name]

    # -- resolution --------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in {"Ref", "Condition"} or key.startswith("Fn::"):
                return self._intrinsic(key, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _intrinsic(self, key: str, arg: Any) -> Any:
        if key in _CONDITION_FUNCTIONS:
            return self._condition_function(key, arg)
        return self._value_function(key, arg)

    def _condition_function(self, key: str, arg: Any) -> Any:
        """Condition, Fn::If and the condition functions (Equals, And, Or, Not)."""
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if key == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if key == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        return not self.resolve(arg[0])  # Fn::Not

    def _value_function(self, key: str, arg: Any) -> Any:
        if key == "Ref":
            return self.ref(self.resolve(arg))
        if key == "Fn::GetAtt":
            parts = self.resolve(arg)
            if isinstance(parts, str):
                parts = parts.split(".", 1)
            return self.lookup(parts[0], ".".join(parts[1:]))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            sep, items = self.resolve(arg)
            return str(sep).join(str(i) for i in items)
        if key == "Fn::Split":
            sep, text = self.resolve(arg)
            return str(text).split(sep)
        if key == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if key == "Fn::FindInMap":
            name, top, second = self.resolve(arg)[:3]
            return self.template.mappings[name][top][second]
        if key == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self.region}{suffix}" for suffix in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg), separators=(",", ":"))
        raise TemplateError(f"intrinsic function {key} is not supported by the local harness")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo_parameters:
            return self.pseudo_parameters[name]
        if name in self._parameters:
            return self._parameters[name]
        return self.lookup(name, None)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] not in self._parameters:
                logical_id, attribute = name.split(".", 1)
                return str(self.lookup(logical_id, attribute))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        substituted = _SUB_VARIABLE.sub(replace, str(text))
        return substituted.replace("${!", "${")
