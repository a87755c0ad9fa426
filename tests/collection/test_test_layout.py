"""The test suite's own layout: helpers are found through pytest's ``pythonpath`` (pytest.ini), never
by a test file or conftest.py editing ``sys.path`` (a test that works only after another one ran); a helper
that two test files share lives in tests/testkit, never in a test_*.py file the other imports; and
testkit.ansible.ansible_env is the one place that builds the environment of an ansible run."""
import ast
import os

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MUTATORS = {"insert", "append", "extend", "remove", "pop", "clear"}


ENV_BUILDER = os.path.join("tests", "testkit", "ansible.py")


def _python_files(root, tests_only=True):
    for folder, dirs, files in os.walk(os.path.join(root, "tests")):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", "golden", "data")]
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            if not tests_only or name == "conftest.py" or name.startswith("test_"):
                yield os.path.relpath(os.path.join(folder, name), root)


def _test_files():
    return _python_files(TOP)


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


def imports_of_test_modules(source):
    """Line numbers where ``source`` imports a test module (test_*): its helpers belong in tests/testkit."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1].startswith("test_"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and not node.module and any(a.name.startswith("test_") for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.Import) and any(a.name.split(".")[-1].startswith("test_") for a in node.names):
            lines.append(node.lineno)
    return sorted(lines)


def _sets_ansible_config(node):
    if isinstance(node, ast.keyword):
        return node.arg == "ANSIBLE_CONFIG" and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    if isinstance(node, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value == "ANSIBLE_CONFIG" for k in node.keys)
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) and t.slice.value == "ANSIBLE_CONFIG"
                   for t in targets)
    return False


def env_builders(source):
    """Line numbers where ``source`` sets ANSIBLE_CONFIG itself (a keyword, a dict key, env[...] = ...): an
    environment built beside testkit.ansible.ansible_env. ``ANSIBLE_CONFIG=None`` (ansible_env's "without") is fine."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source)) if _sets_ansible_config(node))


def layout_offences(root):
    """Every test file of ROOT/tests importing a test module, every Python file there but testkit/ansible.py
    building an ansible environment."""
    found = []
    for path in _python_files(root):
        with open(os.path.join(root, path), encoding="utf-8") as handle:
            found += ["%s:%d imports a test module" % (path, line) for line in imports_of_test_modules(handle.read())]
    for path in _python_files(root, tests_only=False):
        if path == ENV_BUILDER:
            continue
        with open(os.path.join(root, path), encoding="utf-8") as handle:
            found += ["%s:%d builds an ansible environment" % (path, line) for line in env_builders(handle.read())]
    return found


@pytest.mark.parametrize("source,expected", [
    ("from test_lab import ansible\n", [1]),
    ("import os\nfrom .test_seeds import x\n", [2]),
    ("from tests.lab.test_lab import ansible\n", [1]),
    ("import test_render\n", [1]),
    ("from . import test_render\n", [1]),
    ("from testkit.ansible import ansible\nimport lab\nfrom .seeds import cluster_seed\n", []),
])
def test_the_check_sees_imports_of_test_modules(source, expected):
    assert imports_of_test_modules(source) == expected


@pytest.mark.parametrize("source,expected", [
    ("import os\nenv = dict(os.environ, ANSIBLE_CONFIG='x')\n", [2]),
    ("env = {}\nenv['ANSIBLE_CONFIG'] = 'x'\n", [2]),
    ("env = {'ANSIBLE_CONFIG': 'x', 'PATH': ''}\n", [1]),
    ("from testkit.ansible import ansible_env\nenv = ansible_env(ANSIBLE_CONFIG=None)\n", []),
    ("env = {}\nenv.pop('ANSIBLE_CONFIG', None)\nscript = 'export ANSIBLE_CONFIG=x'\n", []),
])
def test_the_check_sees_env_builders(source, expected):
    assert env_builders(source) == expected


def test_the_layout_check_fails_on_a_bad_tree(tmp_path):
    """A deliberately bad tree: a test file importing another one's helper, a helper building its own env."""
    (tmp_path / "tests" / "lab").mkdir(parents=True)
    (tmp_path / "tests" / "testkit").mkdir()
    (tmp_path / "tests" / "lab" / "test_a.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "tests" / "lab" / "test_b.py").write_text("import os\n\nfrom test_a import helper\n")
    (tmp_path / "tests" / "lab" / "runner.py").write_text(
        "import os\n\n\ndef env():\n    return dict(os.environ, ANSIBLE_CONFIG='ansible.cfg')\n")
    (tmp_path / "tests" / "testkit" / "ansible.py").write_text("env = {'ANSIBLE_CONFIG': 'the one place'}\n")
    assert layout_offences(str(tmp_path)) == ["tests/lab/test_b.py:3 imports a test module",
                                              "tests/lab/runner.py:5 builds an ansible environment"]
    (tmp_path / "tests" / "lab" / "test_b.py").write_text("import os\n\nfrom testkit.ansible import env\n")
    (tmp_path / "tests" / "lab" / "runner.py").write_text("from testkit.ansible import env\n")
    assert layout_offences(str(tmp_path)) == []


def test_helpers_live_in_testkit_and_one_function_builds_the_ansible_environment():
    offences = layout_offences(TOP)
    assert not offences, "move shared helpers to tests/testkit, use testkit.ansible.ansible_env: %s" % ", ".join(offences)
