"""The lessons in notebooks/ are tests too: tests/lessons.py collects and executes them."""

pytest_plugins = ["tests.lessons"]
