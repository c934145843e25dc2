"""Finding and loading domains: ``load_domain("bank")`` or a path to a domain folder.

A domain folder holds ``domain.py`` (whose ``build()`` returns the `Domain`) and its spec
pack. Names are looked up in the folders of ``$GUARDGRAPH_DOMAINS`` (``os.pathsep``
separated), then in the ``examples/`` folder beside the package (an editable or source
install). The folder is imported as a package of its own (``guardgraph_domain_<name>``), so
``domain.py`` can split its code into sibling modules and import them relatively.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

from guardgraph.domains._domain import Domain
from guardgraph.domains._types import DomainError

__all__ = ["domain_names", "load_domain"]

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _roots() -> tuple[Path, ...]:
    roots = [Path(p) for p in os.environ.get("GUARDGRAPH_DOMAINS", "").split(os.pathsep) if p]
    bundled = Path(__file__).resolve().parents[2] / "examples"
    if bundled.is_dir():
        roots.append(bundled)
    return tuple(roots)


def domain_names() -> tuple[str, ...]:
    """The names `load_domain` can find, sorted (first root wins for a name seen twice)."""
    names: set[str] = set()
    for root in _roots():
        if root.is_dir():
            names.update(p.parent.name for p in root.glob("*/domain.py")
                         if _NAME.fullmatch(p.parent.name))
    return tuple(sorted(names))


def _folder(name_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(name_or_path)
    if _NAME.fullmatch(text):
        for root in _roots():
            if (root / text / "domain.py").is_file():
                return root / text
        raise DomainError(f"no domain named {text!r}; known: "
                          f"{', '.join(domain_names()) or 'none'} (set GUARDGRAPH_DOMAINS "
                          "to a folder of domains, or pass a domain folder's path)")
    folder = Path(text)
    if folder.name == "domain.py":
        folder = folder.parent
    if not (folder / "domain.py").is_file():
        raise DomainError(f"{text}: not a domain folder (expected {folder / 'domain.py'})")
    return folder


def load_domain(name_or_path: str | os.PathLike[str]) -> Domain:
    """The domain called ``name_or_path`` ("bank", "devops"), or the one in that folder.

    Each call builds a fresh `Domain` (its module is imported once per process)."""
    folder = _folder(name_or_path).resolve()
    module_name = "guardgraph_domain_" + re.sub(r"\W", "_", folder.name)
    module = sys.modules.get(module_name)
    if module is None or Path(getattr(module, "__file__", "")).parent != folder:
        spec = importlib.util.spec_from_file_location(
            module_name, folder / "domain.py", submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None:
            raise DomainError(f"{folder / 'domain.py'}: cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise DomainError(f"{folder / 'domain.py'}: failed to import: "
                              f"{type(exc).__name__}: {exc}") from exc
    build = getattr(module, "build", None)
    if not callable(build):
        raise DomainError(f"{folder / 'domain.py'}: defines no build() function")
    domain = build()
    if not isinstance(domain, Domain):
        raise DomainError(f"{folder / 'domain.py'}: build() returned "
                          f"{type(domain).__name__}, expected a Domain")
    return domain
