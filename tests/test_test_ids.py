"""Every suite test carries a stable id (`@pytest.mark.test_id(uuid)`), each different:
cassettes and reports key on it, so a rename orphans nothing."""

from __future__ import annotations

import ast

from imagecert.contracts import contracts_dir
from imagecert.testids import MARKER, UUID

SUITES = contracts_dir().parent / "suites"

def suite_tests() -> list[tuple[str, list[str]]]:
    """(where, the ids its test_id markers give) for every test function of the suites."""
    found = []
    for path in sorted(SUITES.glob("*/test_*.py")):
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                ids = [d.args[0].value if d.args and isinstance(d.args[0], ast.Constant) else None
                       for d in node.decorator_list
                       if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == MARKER]
                found.append((f"{path.relative_to(SUITES)}::{node.name}", ids))
    return found


def test_every_suite_test_has_one_stable_id_and_no_two_share_one():
    tests = suite_tests()
    assert len(tests) > 150, "the suites were not found"
    wrong = [where for where, ids in tests if len(ids) != 1 or not isinstance(ids[0], str) or not UUID.match(ids[0])]
    assert not wrong, f"give each of these one @pytest.mark.{MARKER}(\"<uuid4>\") (python -c 'import uuid; " \
                      f"print(uuid.uuid4())'): {wrong[:10]}"
    owners: dict[str, list[str]] = {}
    for where, (test_id,) in tests:
        owners.setdefault(test_id, []).append(where)
    shared = {i: w for i, w in owners.items() if len(w) > 1}
    assert not shared, f"tests that share an id (a copied test keeps its original's; give it a new one): {shared}"
