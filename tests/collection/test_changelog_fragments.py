"""Changelog fragments are release notes: valid for antsibull-changelog, one or two short sentences per item.

An item says what a user notices (a new option, a fixed failure, what is refused now), not how the code does it;
measured figures (durations, ratios) belong in docs/benchmarks.md, where the runs behind them are described.
"""
import os
import re
import subprocess

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAGMENTS = os.path.join(TOP, "changelogs", "fragments")
BIN = os.path.join(TOP, ".venv", "bin")
MAX_WORDS = 60
MAX_SENTENCES = 2
# a sentence ends at . ! or ? followed by a space and what starts a sentence (a capital, markup, a bracket)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
# a measured figure: a duration (46 ms, 0.07 s, 3.5 µs) or a ratio (1.3x, 13.6×)
FIGURE = re.compile(r"\b\d[\d.,]*(?:-\d[\d.,]*)?\s*(?:ms|µs|us|ns|s)\b|\b\d[\d.,]*(?:-\d[\d.,]*)?\s*[x×](?=\W|$)")


def _config():
    with open(os.path.join(TOP, "changelogs", "config.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _fragments():
    return sorted(name for name in os.listdir(FRAGMENTS) if name.endswith((".yml", ".yaml")))


def _items():
    """(fragment, section, text) for every item of every fragment."""
    config = _config()
    out = []
    for name in _fragments():
        with open(os.path.join(FRAGMENTS, name), encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        for section, items in data.items():
            if section == config["prelude_section_name"]:
                out.append((name, section, items))
                continue
            for item in items:
                out.append((name, section, item))
    return out


def sentences(text):
    return [s for s in SENTENCE_END.split(" ".join(text.split())) if s]


def test_the_figure_pattern_finds_figures_and_spares_versions():
    assert FIGURE.search("takes 1.3-1.4x ip -batch (46-48 ms against 34-35 ms)")
    assert FIGURE.search("0.95 s before and 0.07 s after")
    assert FIGURE.search("13.6× before")
    assert not FIGURE.search("kube-vip 0.8.0 to 0.8.9 on Kubernetes 1.29, ports above 16384, vip_bgp.peers, 0x10")
    assert sentences("One. Two (``x``). ``-e a=b`` skips this.") == ["One.", "Two (``x``).", "``-e a=b`` skips this."]


def test_antsibull_changelog_lint():
    tool = os.path.join(BIN, "antsibull-changelog")
    proc = subprocess.run([tool, "lint"], cwd=TOP, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_fragments_use_known_sections():
    config = _config()
    known = {key for key, _title in config["sections"]}
    known |= {config["prelude_section_name"], config["trivial_section_name"]}
    for name, section, _text in _items():
        assert section in known, f"{name}: unknown section {section!r}"


@pytest.mark.parametrize("name", _fragments())
def test_items_are_short_release_notes(name):
    problems = []
    for _name, section, text in (i for i in _items() if i[0] == name):
        assert isinstance(text, str), f"{name} {section}: an item is a string, got {text!r}"
        words = len(text.split())
        if words > MAX_WORDS:
            problems.append(f"{section}: {words} words (at most {MAX_WORDS}): {text[:80]}...")
        count = len(sentences(text))
        if count > MAX_SENTENCES:
            problems.append(f"{section}: {count} sentences (at most {MAX_SENTENCES}): {text[:80]}...")
        figures = FIGURE.findall(text)
        if figures:
            problems.append(f"{section}: measured figures {figures} (they go in docs/benchmarks.md): {text[:80]}...")
    assert not problems, f"changelogs/fragments/{name}:\n" + "\n".join(problems)
