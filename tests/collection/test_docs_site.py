"""The docs site (`make docs`) has a page for every plugin, role and guide, and no broken reference.

The site is built once by tests/scripts/docs.sh (the script behind `make docs`: antsibull-docs
sphinx-init and collection, Sphinx with warnings as errors), then every page is opened in headless
Chromium (Debian's `chromium`, from bindep.txt) and read from the DOM Chromium built: the pages the
index links to, each plugin and role page with its options, and the markers Sphinx and MyST leave for
a reference they could not resolve.
"""
import concurrent.futures
import html.parser
import os
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(TOP, "build", "docs")
COLLECTION = "collections/baremetal/vip"


def _expected_pages():
    """{relative page: what it documents} for every documented plugin and role, and every guide."""
    pages = {}
    for name in sorted(os.listdir(os.path.join(TOP, "plugins", "modules"))):
        if name.endswith(".py") and not name.startswith("_"):
            pages[f"{COLLECTION}/{name[:-3]}_module.html"] = f"baremetal.vip.{name[:-3]}"
    for name in sorted(os.listdir(os.path.join(TOP, "plugins", "connection"))):
        if name.endswith(".py") and not name.startswith("_"):
            pages[f"{COLLECTION}/{name[:-3]}_connection.html"] = f"baremetal.vip.{name[:-3]}"
    # Filter files hold several filters; each filter is documented by its own NAME.yml.
    for name in sorted(os.listdir(os.path.join(TOP, "plugins", "filter"))):
        if name.endswith(".yml"):
            pages[f"{COLLECTION}/{name[:-4]}_filter.html"] = f"baremetal.vip.{name[:-4]}"
    for name in sorted(os.listdir(os.path.join(TOP, "roles"))):
        if os.path.isfile(os.path.join(TOP, "roles", name, "meta", "argument_specs.yml")):
            pages[f"{COLLECTION}/{name}_role.html"] = f"baremetal.vip.{name}"
    pages["README.html"] = "baremetal.vip"
    for name in sorted(os.listdir(os.path.join(TOP, "docs"))):
        if name.endswith(".md"):
            pages[f"docs/{name[:-3]}.html"] = None
    return pages


class _Page(html.parser.HTMLParser):
    """Links, the title, the text, and unresolved-reference markers of one DOM."""

    def __init__(self):
        super().__init__()
        self.links, self.unresolved, self.text, self.ids = [], [], [], set()
        self.title = ""
        self._in_title = False
        self._open = []  # tags, to know whether an xref span sits inside a link

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        # Sphinx renders a cross-reference it resolved as <a ...><span class="xref">; one it could not
        # resolve is the bare span. MyST wraps a link it could not resolve in <a href="#target"><span
        # class="xref myst"> (caught here and by the anchor check).
        if "xref" in classes and ("a" not in self._open or "myst" in classes):
            self.unresolved.append(f"<{tag} class={attrs.get('class')!r}>")
        if "error" in classes or "problematic" in classes or "system-message" in classes:
            self.unresolved.append(f"<{tag} class={attrs.get('class')!r}>")
        if tag == "title":
            self._in_title = True
        if tag not in ("br", "img", "meta", "link", "input", "hr", "col", "wbr", "source"):
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.text.append(data)


def _chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is missing: `make system` installs Debian's chromium (bindep.txt)")
    return None


def _dom(browser, page):
    """The DOM Chromium built for one page of the site."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", "file://" + os.path.join(SITE, page)],
            capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"chromium on {page} failed ({proc.returncode}): {proc.stderr[-2000:]}"
    parsed = _Page()
    parsed.feed(proc.stdout)
    assert parsed.title, f"chromium returned no document for {page}"
    return parsed


@pytest.fixture(scope="module")
def site():
    """The site built by `make docs`'s script, and every page of it read by Chromium."""
    browser = _chromium()
    proc = subprocess.run([os.path.join(TOP, "tests", "scripts", "docs.sh")], cwd=TOP, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, f"make docs failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    pages = ["index.html", f"{COLLECTION}/index.html"] + list(_expected_pages())
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        doms = dict(zip(pages, pool.map(lambda page: _dom(browser, page), pages)))
    return doms


def _targets(page, dom):
    """Pages of the site (relative to its root) that a page links to."""
    found = set()
    for href in dom.links:
        parts = urllib.parse.urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        found.add(os.path.normpath(os.path.join(os.path.dirname(page), urllib.parse.unquote(parts.path))))
    return found


def test_index_reaches_every_plugin_role_and_guide(site):
    reachable = _targets("index.html", site["index.html"]) | _targets(f"{COLLECTION}/index.html", site[f"{COLLECTION}/index.html"])
    missing = sorted(set(_expected_pages()) - reachable)
    assert not missing, f"not linked from the index or the collection index: {missing}"


@pytest.mark.parametrize("page", sorted(_expected_pages()))
def test_page_is_there_and_names_what_it_documents(site, page):
    dom = site[page]
    subject = _expected_pages()[page]
    if subject:
        assert subject in dom.title, f"{page}: title {dom.title!r} does not name {subject}"
    text = " ".join(dom.text)
    assert "ERROR while parsing" not in text, page


def test_role_pages_show_every_option_of_the_argument_specs(site):
    roles = [name for name in os.listdir(os.path.join(TOP, "roles"))
             if os.path.isfile(os.path.join(TOP, "roles", name, "meta", "argument_specs.yml"))]
    assert roles
    for role in roles:
        with open(os.path.join(TOP, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        text = " ".join(site[f"{COLLECTION}/{role}_role.html"].text)
        for entry, spec in specs.items():
            for option in spec.get("options", {}):
                assert option in text, f"{role} ({entry}): option {option} is not on its page"


def test_no_page_reports_a_broken_reference(site):
    problems = {page: dom.unresolved for page, dom in site.items() if dom.unresolved}
    assert not problems, f"unresolved references: {problems}"


def test_every_link_inside_the_site_leads_to_a_page(site):
    broken = {}
    for page, dom in site.items():
        gone = sorted(t for t in _targets(page, dom) if not os.path.exists(os.path.join(SITE, t)))
        if gone:
            broken[page] = gone
    assert not broken, f"links to missing pages: {broken}"


def test_every_anchor_link_between_opened_pages_exists(site):
    """A link to page#anchor (or #anchor on the same page) among the pages opened has that id there."""
    broken = {}
    for page, dom in site.items():
        for href in dom.links:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or not parts.fragment:
                continue
            target = page if not parts.path else os.path.normpath(os.path.join(os.path.dirname(page), parts.path))
            if target in site and urllib.parse.unquote(parts.fragment) not in site[target].ids:
                broken.setdefault(page, []).append(href)
    assert not broken, f"links to anchors that are not there: {broken}"
