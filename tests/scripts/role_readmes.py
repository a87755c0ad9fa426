# Copyright (c) 2026 baremetal.vip developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep the variables section of every roles/*/README.md equal to the role's meta/argument_specs.yml.

Each role README is written by hand (what the role does, an example) except the part between the
BEGIN/END markers below, which this script writes from the argument specs (one list per entry point).

    .venv/bin/python tests/scripts/role_readmes.py           # rewrite the generated sections
    .venv/bin/python tests/scripts/role_readmes.py --check   # exit 1 naming every README that differs (make lint)
"""
import argparse
import json
import os
import re
import sys

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEGIN = "<!-- BEGIN variables: written by tests/scripts/role_readmes.py from meta/argument_specs.yml -->"
END = "<!-- END variables -->"
# Ansible documentation markup -> Markdown (only the forms our specs use).
_MARKUP = re.compile(r"\b(RV|[CMOVEIB])\(([^)]*)\)")


def _markdown(text):
    """One description (a string or a list of paragraphs) as one Markdown paragraph."""
    paragraphs = text if isinstance(text, list) else [text]

    def convert(match):
        kind, body = match.groups()
        if kind == "I":
            return f"*{body}*"
        if kind == "B":
            return f"**{body}**"
        return f"`{body}`"

    return " ".join(_MARKUP.sub(convert, " ".join(str(p).split())) for p in paragraphs)


def _value(value):
    if isinstance(value, str):
        return json.dumps(value)
    return yaml.safe_dump(value, default_flow_style=True, width=float("inf")).strip().removesuffix("\n...").strip()


def section(role):
    """The generated Markdown for one role."""
    with open(os.path.join(TOP, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    lines = [BEGIN, ""]
    for entry, spec in specs.items():
        call = f"`baremetal.vip.{role}`" if entry == "main" else f"`tasks_from: {entry}`"
        lines.append(f"### Entry point `{entry}` ({call})")
        lines.append("")
        lines.append(_markdown(spec.get("short_description", "")) + ".")
        lines.append("")
        for name, option in spec.get("options", {}).items():
            kind = option["type"] + (f" of {option['elements']}" if "elements" in option else "")
            text = f"- `{name}` ({kind}{', required' if option.get('required') else ''}): {_markdown(option['description'])}"
            if "default" in option:
                text += f" Default: `{_value(option['default'])}`."
            lines.append(text)
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def roles():
    base = os.path.join(TOP, "roles")
    return sorted(r for r in os.listdir(base) if os.path.isfile(os.path.join(base, r, "meta", "argument_specs.yml")))


def expected(role, current):
    """The README text with its generated section brought up to date (None: the markers are missing)."""
    start, stop = current.find(BEGIN), current.find(END)
    if start < 0 or stop < start:
        return None
    return current[:start] + section(role) + current[stop + len(END):]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a README is out of date")
    args = parser.parse_args(argv)
    problems = []
    for role in roles():
        path = os.path.join(TOP, "roles", role, "README.md")
        if not os.path.isfile(path):
            problems.append(f"roles/{role}/README.md: missing (Galaxy refuses a collection whose role has no README)")
            continue
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
        wanted = expected(role, current)
        if wanted is None:
            problems.append(f"roles/{role}/README.md: no {BEGIN!r} ... {END!r} section")
        elif wanted != current:
            if args.check:
                problems.append(f"roles/{role}/README.md: variables differ from meta/argument_specs.yml; run .venv/bin/python tests/scripts/role_readmes.py")
            else:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(wanted)
                print(f"rewrote roles/{role}/README.md")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
