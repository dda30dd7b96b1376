"""The wheel carries the contract and the shipped data inside the ``gateway`` package.

In a checkout, ``xsd/``, ``wsdl/`` and ``data/`` sit beside the packages (``gateway.config.FILES_ROOT``
is the repository's root). A wheel installs packages only, so the build copies those three directories
to ``gateway/_files/``, where ``FILES_ROOT`` finds them once installed. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("xsd", "wsdl", "data")


class BuildWithFiles(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "gateway" / "_files"
        for name in SHIPPED:
            if (root / name).is_dir():  # building from an sdist: MANIFEST.in brought them
                shutil.rmtree(target / name, ignore_errors=True)
                shutil.copytree(root / name, target / name)


setup(cmdclass={"build_py": BuildWithFiles})
