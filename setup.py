"""The wheel carries the project's files that the commands read: setuptools copies them into the package.

Everything else is in pyproject.toml. An editable install reads the checkout instead (autokg.resources).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: the folders copied to autokg/project/ (autokg.resources.PACKAGED); MANIFEST.in puts them in the sdist
PROJECT_FOLDERS = ("ontology", "shapes", "data", "queries")


class BuildWithProjectFiles(build_py):
    """build_py, then the project's folders copied into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "autokg" / "project"
        shutil.rmtree(target, ignore_errors=True)  # a file deleted from the checkout must not linger from an earlier build
        for folder in PROJECT_FOLDERS:
            shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": BuildWithProjectFiles})
