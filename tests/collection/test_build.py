"""The collection builds, installs from its tarball, and ansible-doc shows every plugin."""
import os
import re
import subprocess

import pytest
import yaml

from testkit.ansible import ansible_env

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, ".venv", "bin")
# Plugin types whose files ansible-doc must document (action plugins are documented by the
# module stub of the same name; module_utils / plugin_utils are libraries).
DOC_TYPES = {
    "modules": "module",
    "filter": "filter",
    "connection": "connection",
    "inventory": "inventory",
    "lookup": "lookup",
    "callback": "callback",
    "test": "test",
}


def _env(**extra):
    """ansible_env without the checkout's ansible.cfg: the built collection is used as a user would."""
    return ansible_env(**dict(extra, ANSIBLE_CONFIG=None))


def _run(args, cwd=TOP, **env):
    proc = subprocess.run(args, cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _plugins():
    """(type, name) of every documented plugin in the tree.

    Filter and test plugin files hold several plugins, each documented by its own NAME.yml next
    to the file; every other type is one plugin per NAME.py.
    """
    found = []
    for directory, doc_type in DOC_TYPES.items():
        path = os.path.join(TOP, "plugins", directory)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if directory in ("filter", "test"):
                if name.endswith(".yml"):
                    found.append((doc_type, name[:-4]))
            elif name.endswith(".py") and not name.startswith("_"):
                found.append((doc_type, name[:-3]))
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    dest = tmp_path_factory.mktemp("collections")
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out), TOP])
    with open(os.path.join(TOP, "galaxy.yml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    tarball = out / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    assert tarball.is_file()
    # --no-deps: kubernetes.core comes with the ansible package; Galaxy is not reachable here.
    # Run outside the checkout so its ansible.cfg (which points at the checkout) is not read.
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "--force", "-p", str(dest), str(tarball)],
         cwd=str(dest), ANSIBLE_COLLECTIONS_PATH=str(dest))
    return dest


def test_tarball_leaves_out_local_state(installed):
    root = installed / "ansible_collections" / "baremetal" / "vip"
    assert (root / "galaxy.yml").exists() is False  # replaced by MANIFEST.json
    assert (root / "MANIFEST.json").is_file()
    for unwanted in (".venv", ".collections", "build", ".ci"):
        assert not (root / unwanted).exists(), unwanted


def test_ansible_doc_lists_every_module(installed):
    listing = _run([os.path.join(BIN, "ansible-doc"), "-t", "module", "-l", "baremetal.vip"],
                   cwd=str(installed), ANSIBLE_COLLECTIONS_PATH=str(installed))
    listed = set(re.findall(r"^baremetal\.vip\.(\w+)", listing, re.M))
    expected = {name for doc_type, name in _plugins() if doc_type == "module"}
    assert expected, "the collection has no modules"
    assert expected <= listed, f"not listed by ansible-doc: {sorted(expected - listed)}"


@pytest.mark.parametrize("doc_type,name", _plugins())
def test_ansible_doc_shows_plugin(installed, doc_type, name):
    text = _run([os.path.join(BIN, "ansible-doc"), "-t", doc_type, f"baremetal.vip.{name}"],
                cwd=str(installed), ANSIBLE_COLLECTIONS_PATH=str(installed))
    assert f"baremetal.vip.{name}" in text


def test_execution_environment_context(tmp_path):
    """ansible-builder accepts the EE definition and writes a build context (no engine needed)."""
    with open(os.path.join(TOP, "galaxy.yml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    with open(os.path.join(TOP, "execution-environment.yml"), encoding="utf-8") as handle:
        ee_text = handle.read()
    assert f"baremetal-vip-{meta['version']}.tar.gz" in ee_text, "execution-environment.yml names another collection version"
    build = tmp_path / "build"
    build.mkdir()
    # ansible-builder copies the tarball named in additional_build_files into the context.
    (build / f"baremetal-vip-{meta['version']}.tar.gz").write_bytes(b"placeholder")
    ee = tmp_path / "execution-environment.yml"
    ee.write_text(ee_text, encoding="utf-8")
    _run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(ee), "-c", str(tmp_path / "context"),
          "--output-filename", "Containerfile"], cwd=str(tmp_path))
    containerfile = (tmp_path / "context" / "Containerfile").read_text(encoding="utf-8")
    assert "COPY _build/collections/ /tmp/collections/" in containerfile


def test_ci_runs_the_readme_test_command():
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    assert block, "README has no command block"
    commands = [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(commands) >= 2, commands
    test_command = commands[1]
    with open(os.path.join(TOP, ".ci", "run"), encoding="utf-8") as handle:
        ci_lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert ci_lines[-1] == test_command, f".ci/run ends with {ci_lines[-1]!r}, README's test command is {test_command!r}"
