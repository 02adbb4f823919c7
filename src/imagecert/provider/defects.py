"""Every way the reference provider can be broken on purpose (`imagecert mock --defect`)."""

from __future__ import annotations

from imagecert.contracts import load_catalog
from imagecert.provider.registry import dialect_classes
from imagecert.provider.rules import Defect, catalog_defects


def all_defects() -> list[Defect]:
    """Catalog-derived defects of every dialect, then each dialect's own."""
    found: list[Defect] = []
    for name, cls in dialect_classes().items():
        found.extend(catalog_defects(load_catalog(name)))
        found.extend(cls.extra_defects)
    return found


def unknown_defects(requested: list[str]) -> list[str]:
    known = {d.id for d in all_defects()}
    return [d for d in requested if d not in known]
