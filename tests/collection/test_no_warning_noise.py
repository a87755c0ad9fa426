"""An ansible-playbook run starts with what it does, not with a Python warning.

ansible-core 2.19 imports the DSA key classes in its ssh-agent client
(ansible/_internal/_ssh/_ssh_agent.py, imported by ansible/cli/__init__.py: every ansible-* command), and
cryptography 51.0 deprecated DSA with a CryptographyDeprecationWarning raised on that import
(cryptography/hazmat/primitives/asymmetric/dsa.py, utils.DeprecatedIn51). requirements.txt keeps
cryptography below 51; these tests fail when a dependency brings the warning back.
"""
import os
import re
import subprocess

from testkit.ansible import ansible_env

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, ".venv", "bin")
WARNING = re.compile(r"warning", re.I)


def _env():
    # what a user has: Python's default warning filters
    return ansible_env(PYTHONWARNINGS=None, ANSIBLE_FORCE_COLOR="0")


def test_readme_validate_run_starts_with_the_play():
    """The README's `ansible-playbook -i examples/arp-metallb/inventory.yml playbooks/validate.yml`."""
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "examples/arp-metallb/inventory.yml",
                           "playbooks/validate.yml"], cwd=TOP, env=_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    crypto = [line for line in output.splitlines() if WARNING.search(line) and "ryptography" in line]
    assert not crypto, f"cryptography warnings in an ansible-playbook run: {crypto}"
    first = next(line for line in (proc.stderr + proc.stdout).splitlines() if line.strip())
    assert first.startswith("PLAY ["), f"the run starts with {first!r}, not with its play"


def test_ansible_cli_imports_without_a_warning():
    """The import every ansible-* command makes (ansible.cli loads the ssh-agent client), warnings as errors."""
    proc = subprocess.run([os.path.join(BIN, "python"), "-W", "error", "-c", "import ansible.cli"],
                          cwd=TOP, env=_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
