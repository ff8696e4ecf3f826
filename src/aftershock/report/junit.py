"""JUnit XML of a policy check: one testcase per rule x target, readable by every CI system."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from aftershock.errors import AftershockError
from aftershock.gate.check import FAIL, KNOWN, CheckResult

# Characters XML 1.0 cannot hold even escaped (a YAML double-quoted name may contain them).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def junit_xml(result: CheckResult) -> str:
    """The JUnit XML document (a `testsuites` with one `testsuite` for the policy)."""
    counts = result.counts
    suites = ET.Element("testsuites", name="aftershock check", tests=str(len(result.outcomes)),
                        failures=str(counts[FAIL]), errors="0")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_text(f"aftershock check {result.model}"
                   + (f": {result.policy_name}" if result.policy_name else "")),
        tests=str(len(result.outcomes)),
        failures=str(counts[FAIL]),
        errors="0",
        skipped="0",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (("model", result.model), ("policy", result.policy),
                       ("baseline", result.baseline or "")):
        ET.SubElement(props, "property", name=key, value=_text(value))
    for o in result.outcomes:
        case = ET.SubElement(
            suite, "testcase", classname=f"aftershock.{o.rule.rule}", name=_text(f"{o.rule.name} [{o.target}]")
        )
        new, known = o.new_violations, [v for v in o.violations if v.known]
        if o.status == FAIL:
            failure = ET.SubElement(
                case, "failure", type=o.rule.rule, message=_text(f"{o.detail}: " + "; ".join(v.subject for v in new))
            )
            failure.text = _text("\n".join(v.message for v in new))
        out = [o.detail]
        if o.status == KNOWN or known:
            out.append("already in the baseline (not failing the build):")
            out += [f"  {v.message}" for v in known]
        ET.SubElement(case, "system-out").text = _text("\n".join(out))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(result: CheckResult, path: str | Path) -> Path:
    """Write the JUnit XML of a check to `path`."""
    path = Path(path)
    try:
        path.write_text(junit_xml(result), encoding="utf-8")
    except OSError as exc:
        raise AftershockError(f"cannot write JUnit XML: {exc.strerror}", file=str(path)) from None
    return path
