"""What a logged model carries so it loads where FinML is not installed.

A FinML pyfunc pickles objects of FinML classes (``finml.models.pyfunc.AnomalyPyfunc`` and
the candidates behind it, ``finml.regimes.pyfunc.RegimeModel``,
``finml.serving.sample_model.ThresholdClassifier``). ``mlflow models serve``, ``mlflow models
predict`` and Databricks Model Serving build an environment from the model's own
``requirements.txt``; they would fail to unpickle without the ``finml`` package. So every
FinML model is logged with:

* ``code_paths``: the ``finml`` package's source (``code/finml``; caches left out, ~1.2 MB).
  MLflow puts ``code/`` first on ``sys.path`` when it loads the model. A process that has
  already imported ``finml`` keeps its own (a package's submodules resolve through the
  package, not ``sys.path``); one that has not gets the same version the model was logged
  with, whole, so any later ``finml`` import there still works.
* pinned requirements (:func:`pinned`) naming the libraries that code imports, so the
  environment MLflow builds has them.

The whole package rather than the pickle's import closure: a Spark Python worker may load a
model first and import other ``finml`` modules later, from the same ``finml``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from importlib.resources.abc import Traversable
from pathlib import Path

import finml

# What the modules a FinML model unpickles import, besides MLflow and the model's own library.
CODE_REQUIREMENTS = ("numpy", "pandas", "pydantic")


@contextmanager
def model_code() -> Iterator[list[str]]:
    """``code_paths`` for ``mlflow.pyfunc.log_model``: a temporary copy of the ``finml``
    package's source, removed on exit (MLflow copies it into the model while logging)."""
    with tempfile.TemporaryDirectory(prefix="finml-model-code-") as tmp:
        target = Path(tmp) / "finml"
        source = Path(finml.__file__).resolve().parent
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.py[co]")
            shutil.copytree(source, target, ignore=ignore)
        else:  # imported from a zip (a wheel shipped with --py-files to a cluster's driver)
            _copy_tree(resources.files(finml), target)
        yield [str(target)]


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name == "__pycache__" or entry.name.endswith((".pyc", ".pyo")):
            continue
        if entry.is_dir():
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def pinned(packages: Iterable[str]) -> list[str]:
    """``package==<installed version>`` for each of ``packages`` and of
    :data:`CODE_REQUIREMENTS`, MLflow first, without duplicates; a package that is not
    installed here is listed unpinned (MLflow then resolves it when it builds the
    environment)."""
    names = dict.fromkeys(["mlflow", *packages, *CODE_REQUIREMENTS])
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins
