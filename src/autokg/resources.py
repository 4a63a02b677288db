"""Where autokg's own files are: the checkout this package runs from, or the copy that an installed wheel carries.

A wheel carries the ontology, the shapes, the data with its source texts and the queries in the package, under
`autokg/project/` (setup.py copies them there), read in place through importlib.resources. An installed package
is no place to write, so what `autokg build` writes for that copy goes to a cache folder of this version.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from autokg import __version__
from autokg.errors import AutokgError

#: the folder of the package that holds the project's files in a wheel
PACKAGED = "project"


def checkout_root() -> Path | None:
    """The checkout this package runs from (an editable install, or `server/` on the path), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "ontology").is_dir() else None


def packaged_folder() -> Path:
    """The package's folder for the project's files (a checkout's package has none)."""
    return Path(str(files("autokg").joinpath(PACKAGED))).resolve()


def packaged_root() -> Path:
    """The project's files that the installed package carries; raises AutokgError when it carries none."""
    folder = packaged_folder()
    if not (folder / "ontology").is_dir():
        raise AutokgError(f"This autokg package carries no project files ({folder}): install it from a wheel, "
                          "or name a checkout with --root or $AUTOKG_ROOT")
    return folder


def project_root() -> Path:
    """The checkout's files inside a checkout, else the installed package's."""
    return checkout_root() or packaged_root()


def build_folder(root: Path) -> Path:
    """Where `autokg build` writes for `root`: its dist/, or for the package's own copy a cache folder.

    The cache is $AUTOKG_CACHE_DIR, else $XDG_CACHE_HOME/autokg, else ~/.cache/autokg, one folder per version.
    """
    if root != packaged_folder():
        return root / "dist"
    cache = os.environ.get("AUTOKG_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autokg"
    return Path(cache) / __version__ / "dist"
