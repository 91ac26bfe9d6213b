"""What may import what: the layers of docs/architecture.md, checked on the source.

Module-level imports only (``import`` statements outside functions): a lazy import inside a
function is how the operator CLI offers the local tools without depending on them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from asg_refresh_local.samples import PROJECT_ROOT

LAYER = PROJECT_ROOT / "layers" / "shared" / "asg_refresh"
CLI = PROJECT_ROOT / "cli" / "asg_refresh_cli"
FUNCTIONS = PROJECT_ROOT / "functions"


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_under(root: Path) -> dict[Path, set[str]]:
    return {path: top_level_imports(path) for path in root.rglob("*.py")}


def offending(found: dict[Path, set[str]], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(PROJECT_ROOT)} imports {name}"
        for path, names in found.items()
        for name in names
        if name.startswith(forbidden) or name.split(".")[0] in forbidden
    )


def test_the_layer_imports_nothing_local_nor_the_cli_nor_a_handler() -> None:
    assert offending(imports_under(LAYER), ("asg_refresh_local", "asg_refresh_cli", "app")) == []


@pytest.mark.parametrize("package", ["logic", "models"])
def test_logic_and_models_never_touch_aws_directly(package: str) -> None:
    assert offending(imports_under(LAYER / package), ("boto3", "botocore")) == []


@pytest.mark.parametrize("package", ["logic", "models", "dal"])
def test_nothing_below_the_handlers_imports_observability(package: str) -> None:
    assert offending(imports_under(LAYER / package), ("asg_refresh.observability",)) == []


def test_only_the_data_access_layer_imports_boto3() -> None:
    outside_dal = {p: n for p, n in imports_under(LAYER).items() if "dal" not in p.parts}
    assert offending(outside_dal, ("boto3", "botocore")) == []


#: The concrete data access: the gateway and the audit store built on it. Logic takes the ports
#: of dal/ports.py instead; the handlers (the composition roots) build these and pass them in.
CONCRETE_DATA_ACCESS = ("asg_refresh.dal.aws", "asg_refresh.dal.audit", "asg_refresh.dal.clients")


def test_logic_takes_the_ports_not_the_concrete_gateway_nor_the_audit_store() -> None:
    assert offending(imports_under(LAYER / "logic"), CONCRETE_DATA_ACCESS) == []


def names_imported(path: Path) -> set[str]:
    """Every name a module imports, at any depth (a lazy import inside a function included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name.rpartition(".")[2] for alias in node.names}
    return names


def test_no_logic_module_reaches_the_gateway_or_the_audit_store_by_name() -> None:
    # Also through a re-export (``from asg_refresh.dal import AuditStore``) or a lazy import.
    found = {
        f"{path.relative_to(PROJECT_ROOT)} imports {name}"
        for path in sorted((LAYER / "logic").rglob("*.py"))
        for name in names_imported(path) & {"AwsGateway", "AuditStore"}
    }
    assert sorted(found) == []


def test_the_concrete_data_access_checks_can_fail(tmp_path: Path) -> None:
    found = {PROJECT_ROOT / "logic.py": {"asg_refresh.dal.audit", "asg_refresh.dal.ports"}}
    assert offending(found, CONCRETE_DATA_ACCESS) == ["logic.py imports asg_refresh.dal.audit"]
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def store():\n    from asg_refresh.dal import AuditStore\n    return AuditStore\n")
    assert "AuditStore" in names_imported(lazy)


@pytest.mark.parametrize("module", ["ports.py", "records.py"])
def test_the_ports_and_records_stand_without_aws(module: str) -> None:
    # What the in-memory fakes implement must not drag boto3 or the gateway in.
    found = {LAYER / "dal" / module: top_level_imports(LAYER / "dal" / module)}
    assert offending(found, ("boto3", "botocore", "asg_refresh.dal.aws", "asg_refresh.dal.clients")) == []


def test_the_operator_cli_does_not_depend_on_the_local_tools() -> None:
    assert offending(imports_under(CLI), ("asg_refresh_local",)) == []


def test_handlers_import_the_layer_and_never_each_other_or_the_local_tools() -> None:
    found = imports_under(FUNCTIONS)
    assert offending(found, ("asg_refresh_local", "asg_refresh_cli", "functions")) == []
    assert all(any(n.startswith("asg_refresh") for n in names) for names in found.values())


def test_the_check_can_fail() -> None:
    found = {PROJECT_ROOT / "x.py": {"asg_refresh_local.harness", "boto3"}}
    assert offending(found, ("asg_refresh_local",)) == ["x.py imports asg_refresh_local.harness"]
    assert offending(found, ("boto3", "botocore")) == ["x.py imports boto3"]


#: AWS's PascalCase keys read in logic/ (``x["Key"]`` or ``x.get("Key")``), counted on the AST.
#: dal/aws.py turns AWS's answers into the records of dal/records.py, and dal/requests.py builds
#: the request shapes logic asks for; what is left here is counted, and may only go down: lower
#: this number when a module sheds its reads. (148 before the records took over; none left: a
#: Step Functions error is read through models/approval.py's TaskFailure.)
PASCAL_READS_IN_LOGIC = 0
PASCAL_KEY = re.compile(r"[A-Z][a-z0-9][A-Za-z0-9]*")


def pascal_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        key: object = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            key = node.args[0].value
        if isinstance(key, str) and PASCAL_KEY.fullmatch(key):
            found.append(f"{path.name}:{node.lineno} {key}")
    return found


def test_logic_reads_records_not_aws_keys() -> None:
    reads = [read for path in sorted((LAYER / "logic").rglob("*.py")) for read in pascal_reads(path)]
    assert len(reads) <= PASCAL_READS_IN_LOGIC, "\n".join(reads)
