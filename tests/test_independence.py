"""The judge shares no code with the judged.

Checks, the fuzz oracle, probes, provisioning, reports and the suites decide what a
target must answer; the reference provider is one target among others. If the judge
imported the provider, a bug they shared would pass unseen. Only the modules that start
the embedded provider (the command line, the pytest plugin; the fake for other projects'
tests) may import it, and they judge nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "imagecert"
# These start the provider (certify with no --target, `imagecert mock`, the mock fixture).
STARTERS = {PACKAGE / "cli.py", PACKAGE / "plugin.py"}
PROVIDER_SIDE = (PACKAGE / "provider",)


def judge_modules() -> list[Path]:
    engine = [path for path in PACKAGE.rglob("*.py")
              if path not in STARTERS and not any(side in path.parents for side in PROVIDER_SIDE)]
    return sorted(engine + list((ROOT / "suites").rglob("*.py")))


def provider_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Each import of imagecert.provider in a file, static or by name (importlib)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module.startswith("imagecert.provider") else \
                [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if node.value.startswith("imagecert.provider") else []
        found += [f"{path.relative_to(root)}:{node.lineno}: {name}" for name in names
                  if name == "imagecert.provider" or name.startswith("imagecert.provider.")]
    return found


def test_the_judge_imports_nothing_from_the_provider():
    modules = judge_modules()
    assert len(modules) > 20, "the judge's modules were not found"
    crossings = [line for path in modules for line in provider_imports(path)]
    assert not crossings, "the judge imports the reference provider:\n" + "\n".join(crossings)


def test_the_boundary_check_sees_a_crossing(tmp_path):
    """The check above can fail: each way of importing the provider is seen."""
    sample = tmp_path / "judge.py"
    sample.write_text("import imagecert.provider.app\n"
                      "from imagecert.provider.validation import rule_for\n"
                      "from imagecert import provider\n"
                      "importlib.import_module('imagecert.provider.store')\n", "utf-8")
    found = provider_imports(sample, root=tmp_path)
    assert len(found) == 4, found
