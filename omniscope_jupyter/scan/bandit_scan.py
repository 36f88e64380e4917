"""Bandit, used as a library over a package's Python files, with ``# nosec`` not honoured.

A plugin author must not be able to silence the scan from inside the plugin, so Bandit runs with
``ignore_nosec=True``. A file Bandit skips (it could not parse or scan it) becomes a finding: the
scan fails closed.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # Bandit's plugin loader (stevedore) warns about its own deprecated arguments at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    import bandit
    from bandit.core import config as b_config
    from bandit.core import docs_utils
    from bandit.core import manager as b_manager

from .report import Finding
from .rules import BANDIT_SEVERITY_OVERRIDES, finding

#: B101 (assert) is about ``python -O`` stripping checks in services; irrelevant to plugins.
EXCLUDED_TESTS = ("B101",)

BANDIT_NAME = f"bandit {bandit.__version__}"


def bandit_findings(package_dir: Path, files: list[str]) -> list[Finding]:
    """Run Bandit over ``files`` (relative to ``package_dir``) and map its issues to findings."""
    if not files:
        return []
    root = Path(package_dir).resolve()
    mgr = b_manager.BanditManager(
        b_config.BanditConfig(),
        "file",
        quiet=True,
        ignore_nosec=True,
        profile={"exclude": list(EXCLUDED_TESTS)},
    )
    mgr.discover_files([str(root / f) for f in files], recursive=False)
    # Bandit compiles the code with ``ast``: a plugin's invalid escape sequences must not turn
    # into warnings (errors under pytest) in the server, and Bandit's own log is not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _quiet_bandit_log()
        mgr.run_tests()
    out = []
    for issue in mgr.get_issue_list():
        severity = BANDIT_SEVERITY_OVERRIDES.get(issue.test_id, issue.severity)
        note = " (HIGH by OmniScope's plugin policy)" if severity != issue.severity else ""
        out.append(
            Finding(
                rule_id=issue.test_id,
                severity=severity,
                confidence=issue.confidence,
                file=_relative(root, issue.fname),
                line=int(issue.lineno or 0),
                message=f"{issue.text}{note}",
                fix_hint=_fix_hint(issue),
            )
        )
    for fname, reason in mgr.get_skipped():
        out.append(finding("PY001", _relative(root, fname), 0, f"Bandit skipped it ({reason})"))
    return out


def _relative(root: Path, fname: str) -> str:
    try:
        return Path(fname).resolve().relative_to(root).as_posix()
    except ValueError:
        return fname


def _fix_hint(issue: Any) -> str:
    """Bandit has no fix text; point at its documentation page for the rule."""
    return f"Rewrite without it; see {docs_utils.get_url(issue.test_id)}"


def _quiet_bandit_log() -> None:
    # Bandit logs at ERROR for each file it cannot scan; the finding already says so.
    logging.getLogger("bandit").setLevel(logging.CRITICAL)
