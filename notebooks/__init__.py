"""Not code for learners: it makes pytest import notebooks/conftest.py as ``notebooks.conftest``.

Without it, notebooks/conftest.py and tests/conftest.py would both be the top-level module
``conftest``, and the tests' ``from conftest import ...`` could get the wrong one.
"""
