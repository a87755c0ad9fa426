"""Shared test setup.

- Makes the checkout importable as ansible_collections.baremetal.vip for every test.
- Under CI=true a skipped test is a failure: kernel, lab and User-Mode Linux tests skip on a
  developer machine without root or without the packages of bindep.txt; CI installs them
  (.ci/run), so a skip there means a broken setup, not a passing test.
"""
import os

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK_ROOT = os.path.join(TOP, ".collections")
_link = os.path.join(LINK_ROOT, "ansible_collections", "baremetal", "vip")
if not os.path.lexists(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink("../../..", _link)


def _ci():
    return os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    """Turn a skip into a failure under CI=true."""
    outcome = yield
    report = outcome.get_result()
    if _ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = "skipped under CI=true (every test must run in CI): %s" % reason
