#!/usr/bin/env bash
# The collection's HTML docs site (make docs): antsibull-docs sphinx-init writes the Sphinx project,
# antsibull-docs collection writes a page per module, filter, connection plugin and role (options
# from DOCUMENTATION and meta/argument_specs.yml), README.md and docs/*.md are added as Markdown
# (MyST), and Sphinx builds it into build/docs with every warning an error (a broken reference too).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/.venv/bin"
export PATH="$bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
src="$top/build/docs-src"
out="$top/build/docs"
rm -rf "$src" "$out"
mkdir -p "$top/build"
# antsibull-docs wants its destination owned by the user and writable by the user only
mkdir -m 0755 "$src"

antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$src" \
  --project baremetal.vip --copyright "baremetal.vip developers" \
  --title "baremetal.vip" --html-short-title "baremetal.vip" \
  --index-rst-source "$top/docs/site/index.rst" baremetal.vip >/dev/null

# The site is built offline: Ansible's intersphinx inventory is made from docs/site/ansible-docsite.inv.txt
# (the few labels our pages link to) instead of downloaded; other mappings are dropped. Markdown via MyST.
"$bin/python" - "$top/docs/site/ansible-docsite.inv.txt" "$src/ansible_devel.inv" <<'PY'
import sys
import zlib

with open(sys.argv[1], encoding="utf-8") as handle:
    lines = [line for line in handle.read().splitlines() if line.strip() and not line.startswith("#")]
header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
with open(sys.argv[2], "wb") as handle:
    handle.write(header.encode() + zlib.compress(("\n".join(lines) + "\n").encode()))
PY
cat >> "$src/conf.py" <<'PY'

# Added by tests/scripts/docs.sh
extensions.append('myst_parser')
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/',
                      __import__('os').path.join(__import__('os').path.dirname(__file__), 'ansible_devel.inv')),
}
PY

mkdir -p "$src/rst"
chmod og-w "$src/rst"
(cd "$src" && antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything \
  --use-current --fail-on-error --dest-dir rst baremetal.vip >/dev/null)
cp "$top/README.md" "$src/rst/README.md"
mkdir -p "$src/rst/docs"
cp "$top"/docs/*.md "$src/rst/docs/"

sphinx-build -b html -W --keep-going -q -c "$src" "$src/rst" "$out"
echo "docs site: $out/index.html"
