# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run galaxy-importer on the tarball of `make build` as Galaxy does on upload, and fail on anything it says.

    .venv/bin/python tests/scripts/galaxy_import.py [TARBALL]   # default: build/NAMESPACE-NAME-VERSION.tar.gz of galaxy.yml

Configuration: tests/galaxy-importer.cfg (its ansible-test step is off: no container engine here;
`make sanity` covers it). Fails when the import fails, when the importer prints a WARNING or ERROR
line that docs/development.md does not keep (section "Kept galaxy-importer warnings", one
backquoted line each, with why), or when its result lacks a role README or a plugin's documentation.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(TOP, "tests", "galaxy-importer.cfg")
DEVELOPMENT = os.path.join(TOP, "docs", "development.md")
KEPT_HEADING = "## Kept galaxy-importer warnings"
# Plugin types whose every file must come back with documentation (filter files holding several
# filters are documented by one NAME.yml per filter, which the importer reports as the plugin).
DOCUMENTED = ("module", "connection")


def kept_warnings():
    """The importer lines docs/development.md keeps: backquoted at the start of a bullet in its section."""
    with open(DEVELOPMENT, encoding="utf-8") as handle:
        text = handle.read()
    if KEPT_HEADING not in text:
        return set()
    section = text.split(KEPT_HEADING, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([^`]+)`", section, re.M))


def unexplained(output, kept):
    """WARNING/ERROR lines of the importer's output that are not kept."""
    lines = [line.rstrip() for line in output.splitlines()]
    return [line for line in lines if line.startswith(("WARNING:", "ERROR:")) and line not in kept]


def missing_docs(result):
    """Roles without a README and plugins without documentation in the importer's result."""
    problems = []
    for item in result["docs_blob"]["contents"]:
        kind, name = item["content_type"], item["content_name"]
        if kind == "role" and not item.get("readme_html"):
            problems.append(f"role {name}: no README in the importer's result")
        if kind in DOCUMENTED and not item.get("doc_strings"):
            problems.append(f"{kind} {name}: no documentation in the importer's result")
    if not result["docs_blob"]["collection_readme"].get("html"):
        problems.append("the collection README was not rendered")
    return problems


def default_tarball():
    """Where `make build` writes the tarball."""
    with open(os.path.join(TOP, "galaxy.yml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    return os.path.join(TOP, "build", f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz")


def main(argv):
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    tarball = os.path.abspath(argv[0] if argv else default_tarball())
    if not os.path.isfile(tarball):
        print(f"galaxy_import: {tarball} does not exist: run `make build` first", file=sys.stderr)
        return 2
    work = os.path.join(TOP, "build", "galaxy-importer")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)  # Galaxy does not read our ansible.cfg
    env["GALAXY_IMPORTER_CONFIG"] = CONFIG
    # The importer unpacks into the system's temporary directory, as on Galaxy: not under build/, where
    # ansible-lint would find this checkout's .ansible-lint (which excludes build/) and lint nothing.
    with tempfile.TemporaryDirectory() as tmp:
        # Config's environment override (GALAXY_IMPORTER_<OPTION>): a machine path stays out of the cfg file.
        env["GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP"] = tmp
        proc = subprocess.run([sys.executable, "-m", "galaxy_importer.main", tarball], cwd=work, env=env,
                              capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    print(output, end="")
    problems = []
    if proc.returncode != 0 or "Importer processing completed successfully" not in output:
        problems.append(f"galaxy-importer failed (exit {proc.returncode})")
    else:
        with open(os.path.join(work, "importer_result.json"), encoding="utf-8") as handle:
            problems += missing_docs(json.load(handle))
    problems += [f"unexplained: {line}" for line in unexplained(output, kept_warnings())]
    for problem in problems:
        print(f"galaxy_import: {problem}", file=sys.stderr)
    if problems:
        print(f"galaxy_import: keep a warning only with a reason, in {KEPT_HEADING!r} of docs/development.md", file=sys.stderr)
        return 1
    print("galaxy_import: the import passed with no unexplained warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
