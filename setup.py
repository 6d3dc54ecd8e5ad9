"""Map the top-level folders onto the one import package ``timebank``.

``platform/`` stays a namespace package (no ``__init__.py`` at its top) so that a
``platform`` folder in the working directory never shadows the standard library.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "platform": "timebank.platform",
    "tenants": "timebank.tenants",
    "worker": "timebank.worker",
}


def packages() -> list[str]:
    found: list[str] = []
    for folder, name in ROOTS.items():
        found.append(name)
        for init in sorted(Path(folder).rglob("__init__.py")):
            parts = init.parent.relative_to(folder).parts
            if parts:
                found.append(".".join((name, *parts)))
    return found


setup(packages=packages())
