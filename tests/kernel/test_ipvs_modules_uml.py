"""IPVS modules on a real kernel with IPVS: one User-Mode Linux boot runs guest_ipvs.py.

The guest's pytest writes a junit report; this test fails unless the guest ran every check and
all passed (a guest that crashes, hangs or skips fails here).
"""
import xml.etree.ElementTree as ET

import nsutil  # pylint: disable=import-error
import uml  # pylint: disable=import-error

GUEST_TESTS = 5


def test_ipvs_modules_in_user_mode_linux():
    nsutil.need(uml.problem())
    script = ('"%s" -m pytest -p no:cacheprovider -q -x tests/kernel/guest_ipvs.py --junitxml="$VIP_UML_DIR/junit.xml"\n'
              % nsutil.PYTHON)
    result = uml.run(script, timeout=290)
    assert result.rc == 0, result.explain()
    assert "junit.xml" in result.files, result.explain()
    suite = ET.fromstring(result.files["junit.xml"])
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": GUEST_TESTS, "failures": 0, "errors": 0, "skipped": 0}, result.explain()
