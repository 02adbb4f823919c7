"""Build hook: the wheel carries the repository's top-level `contracts/` and `suites/`.

They stay at the top of the repository (the contracts are the project's single source of
truth, the suites are plain pytest beside them); `imagecert.contracts.shipped` finds the
copies made here when imagecert is installed, and the originals in a checkout.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("contracts", "suites")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


class BuildWithSharedData(build_py):
    def run(self) -> None:
        super().run()
        data = Path(self.build_lib) / "imagecert" / "_data"
        for name in SHIPPED:
            shutil.copytree(ROOT / name, data / name, ignore=SKIPPED, dirs_exist_ok=True)
        # the suites' hypothesis profiles live in the repository's top conftest.py
        if (ROOT / "conftest.py").is_file():
            shutil.copyfile(ROOT / "conftest.py", data / "suites" / "conftest.py")


setup(cmdclass={"build_py": BuildWithSharedData})
