"""The course in notebooks/: every lesson has the shape of a lesson, uses only the public API and
the command line, and is listed in the README. (nbmake executes the lessons themselves, solutions
included.)"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import exsim

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISE = re.compile(r"^\*\*Exercise \d+\.\*\*", re.M)


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def python(cell: dict) -> str:
    """A code cell as the kernel runs it: IPython's syntax (``%exsim ...``, ``x = %exsim ...``)
    turned into the Python it stands for (``get_ipython().run_line_magic("exsim", "...")``)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source(cell))


def is_solution(cell: dict) -> bool:
    meta = cell.get("metadata", {})
    return (
        cell["cell_type"] == "code"
        and meta.get("jupyter", {}).get("source_hidden") is True
        and meta.get("collapsed") is True
    )


def test_there_is_a_course():
    assert len(LESSONS) >= 13


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_lesson_opens_with_what_you_will_learn(path):
    first = cells(path)[0]
    assert first["cell_type"] == "markdown"
    assert "**What you will learn**" in source(first)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_lesson_draws_a_figure(path):
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code" and not is_solution(c))
    assert "plt.subplots(" in code
    assert "plt.show()" in code


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_two_or_three_exercises_each_followed_by_its_hidden_solution(path):
    lesson = cells(path)
    exercises = [
        i for i, c in enumerate(lesson) if c["cell_type"] == "markdown" and EXERCISE.search(source(c))
    ]
    assert 2 <= len(exercises) <= 3
    for i in exercises:
        assert i + 1 < len(lesson), f"exercise in cell {i} has no solution after it"
        assert is_solution(lesson[i + 1]), f"the cell after the exercise in cell {i} is not a hidden solution"
    # Only solutions are hidden: the lesson itself is there to be read.
    assert sum(is_solution(c) for c in lesson) == len(exercises)


def _exsim_names_used(tree: ast.AST) -> list[str]:
    """Every 'exsim...' module or name the code imports or reaches through the package."""
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "exsim":
            used += [node.module] if node.module != "exsim" else [f"exsim.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            used += [a.name for a in node.names if a.name.split(".")[0] == "exsim" and a.name != "exsim"]
        elif (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "exsim"
        ):
            used.append(f"exsim.{node.attr}")
    return used


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_lesson_uses_only_the_public_api_and_the_command_line(path):
    public = {f"exsim.{name}" for name in exsim.__all__}
    for cell in cells(path):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(python(cell))
        assert set(_exsim_names_used(tree)) <= public, source(cell)
        private = [
            n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and re.match(r"_[^_]", n.attr)
        ]
        assert private == [], private


def test_the_checks_catch_an_internal_import():
    tree = ast.parse("from exsim.routing import Router\nimport exsim.sim\nexsim.simulate\nexsim.plots")
    assert _exsim_names_used(tree) == ["exsim.routing", "exsim.sim", "exsim.simulate", "exsim.plots"]


def test_the_readme_lists_every_lesson_and_the_glossary():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    learn = readme[readme.index("## Learn") :]
    learn = learn[: learn.index("\n## ", 1)]
    for path in LESSONS:
        assert f"(notebooks/{path.name})" in learn, path.name
    assert "(notebooks/glossary.md)" in learn
