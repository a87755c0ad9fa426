"""The test suite's own layout: helpers are found through pytest's ``pythonpath`` (pytest.ini), never
by a test file or conftest.py editing ``sys.path`` (a test that works only after another one ran)."""
import ast
import os

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MUTATORS = {"insert", "append", "extend", "remove", "pop", "clear"}


def _test_files():
    for folder, dirs, files in os.walk(os.path.join(TOP, "tests")):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", "golden", "data")]
        for name in sorted(files):
            if name == "conftest.py" or (name.startswith("test_") and name.endswith(".py")):
                yield os.path.relpath(os.path.join(folder, name), TOP)


def _is_sys_path(node):
    return (isinstance(node, ast.Attribute) and node.attr == "path"
            and isinstance(node.value, ast.Name) and node.value.id == "sys")


def sys_path_edits(source):
    """Line numbers where ``source`` changes sys.path: a mutating call, an assignment, or an augmented one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS \
                and _is_sys_path(node.func.value):
            lines.append(node.lineno)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
        for target in targets:
            if _is_sys_path(target) or (isinstance(target, ast.Subscript) and _is_sys_path(target.value)):
                lines.append(node.lineno)
    return sorted(lines)


@pytest.mark.parametrize("source,expected", [
    ("import sys\nsys.path.insert(0, 'x')\n", [2]),
    ("import sys\nif True:\n    sys.path.append('x')\n", [3]),
    ("import sys\nsys.path[:0] = ['x']\n", [2]),
    ("import sys\nsys.path += ['x']\n", [2]),
    ("import sys\nsys.path = ['x']\n", [2]),
    ("import sys\nprint(sys.path)\nscript = 'sys.path.insert(0, sys.argv[1])'\n", []),
])
def test_the_check_sees_every_kind_of_edit(source, expected):
    assert sys_path_edits(source) == expected


def test_no_test_file_edits_sys_path():
    files = list(_test_files())
    assert len(files) > 50  # the walk found the suite
    offenders = []
    for path in files:
        with open(os.path.join(TOP, path), encoding="utf-8") as handle:
            offenders += ["%s:%d" % (path, line) for line in sys_path_edits(handle.read())]
    assert not offenders, "edit sys.path (put the helper's folder in pytest.ini's pythonpath instead): %s" % ", ".join(offenders)
