"""The catalogue of OmniScope's own scan rules: id, default severity, title and fix hint.

Every scanner builds its findings through :func:`finding` so that the severity and the fix hint of
a rule are written once, here, and the README's rule table can be generated from this module.
Bandit's rules (``B1xx``..``B7xx``) keep Bandit's own ids and texts; the few Bandit rules whose
default severity is too lenient for plugin code are raised by :data:`BANDIT_SEVERITY_OVERRIDES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .report import Finding

HIGH, MEDIUM, LOW = "HIGH", "MEDIUM", "LOW"


@dataclass(frozen=True)
class Rule:
    """A rule's defaults; a scanner may lower or raise the severity for a given context."""

    severity: str
    title: str
    fix_hint: str


RULES: dict[str, Rule] = {
    # -- files ---------------------------------------------------------------------------------
    "F001": Rule(
        HIGH,
        "binary or compiled file",
        "Ship source code only: remove compiled, "
        "native or archive files (.pyc, .so, .pth, __pycache__, wheels, .rds).",
    ),
    "F002": Rule(HIGH, "setuid/setgid bit", "Clear the setuid/setgid bits (chmod u-s,g-s)."),
    "F003": Rule(MEDIUM, "world-writable file", "Remove write permission for others (chmod o-w)."),
    "F004": Rule(
        MEDIUM,
        "executable file other than the entry point",
        "Clear the executable bit (chmod -x); only the entry point may be executable.",
    ),
    "F005": Rule(
        LOW,
        "hidden file",
        "Remove hidden files and directories (.git, editor files) from the package.",
    ),
    "F006": Rule(
        HIGH,
        "file over the size cap",
        "Keep files under the size cap; pass large data as input instead of shipping it.",
    ),
    "F007": Rule(HIGH, "symbolic link", "Replace the link by the file it points to."),
    "F008": Rule(
        HIGH,
        "interpreter start-up file",
        "Remove it: files such as .Rprofile or sitecustomize.py run before the plugin's own code.",
    ),
    # -- Python --------------------------------------------------------------------------------
    "PY000": Rule(
        HIGH,
        "Python file cannot be parsed",
        "Fix the syntax error; every Python file must parse with the plugin runtime's Python.",
    ),
    "PY001": Rule(
        HIGH,
        "Python file could not be scanned",
        "Simplify the file; the scan must read every Python file.",
    ),
    "PY101": Rule(
        HIGH,
        "network module without the network permission",
        'Add "network" to the manifest\'s permissions, or remove the import.',
    ),
    "PY102": Rule(
        HIGH,
        "file write without the file_system permission",
        'Add "file_system" to the manifest\'s permissions, or return the data '
        "instead of writing it.",
    ),
    "PY103": Rule(
        HIGH,
        "native code interface (ctypes/cffi)",
        "Do not load native code from a plugin; use a declared dependency.",
    ),
    "PY104": Rule(
        HIGH,
        "starts a process",
        "Do not start programs or shells from a plugin (subprocess, os.exec*/spawn*/popen, "
        "pty.spawn); do the work in Python or with a declared dependency.",
    ),
    # -- R -------------------------------------------------------------------------------------
    "R000": Rule(HIGH, "R file cannot be parsed", "Fix the syntax error; every R file must parse."),
    "R001": Rule(
        HIGH,
        "shell command execution",
        "Do not run shell commands from a plugin; use R functions or a declared dependency.",
    ),
    "R002": Rule(
        HIGH,
        "code built from a string and evaluated",
        "Do not evaluate text as code; call the functions directly.",
    ),
    "R003": Rule(
        LOW,
        "function looked up by name",
        "Call the function directly instead of looking it up by name (do.call/match.fun/get).",
    ),
    "R004": Rule(
        MEDIUM,
        "source() of another file",
        "Put shared code in the plugin file or a "
        "declared package; source() runs whatever file it is given.",
    ),
    "R005": Rule(
        HIGH, "network access", 'Add "network" to the manifest\'s permissions, or remove the call.'
    ),
    "R006": Rule(
        HIGH,
        "native code or internal interface",
        "Do not call native code "
        "(.Call/.C/.External/dyn.load/.Internal) from a plugin; use a declared package.",
    ),
    "R007": Rule(
        MEDIUM,
        "changes the process environment or file modes",
        "Do not change environment variables or file modes (Sys.setenv, Sys.chmod).",
    ),
    "R008": Rule(
        HIGH,
        "deletes files",
        'Add "file_system" to the manifest\'s permissions, or do not delete files.',
    ),
    "R009": Rule(
        HIGH,
        "installs packages at run time",
        "Declare the package in the manifest's "
        "dependencies instead of installing it from the plugin.",
    ),
    "R010": Rule(
        MEDIUM,
        "deserialises R objects",
        "Avoid readRDS/load/unserialize on data you "
        "did not produce (code execution before R 4.4, CVE-2024-27322).",
    ),
    "R011": Rule(
        HIGH,
        "network package without the network permission",
        'Add "network" to the manifest\'s permissions, or remove the package.',
    ),
    "R012": Rule(
        HIGH,
        "file write without the file_system permission",
        'Add "file_system" to the manifest\'s permissions, or return the data '
        "instead of writing it.",
    ),
    "R099": Rule(
        HIGH,
        "R files could not be scanned",
        "Report this to the server administrator; "
        "the package is refused until its R code can be scanned.",
    ),
    # -- dependencies --------------------------------------------------------------------------
    "DEP001": Rule(
        HIGH,
        "dependency with a known vulnerability",
        "Pin a version outside the advisory's affected range.",
    ),
    "DEP002": Rule(
        LOW,
        "dependency not pinned: vulnerability status unknown",
        "Pin an exact version (name==x.y.z) so it can be checked.",
    ),
    "DEP003": Rule(
        MEDIUM,
        "dependency cannot be read as a requirement",
        "Write it as a PEP 508 requirement (name==x.y.z).",
    ),
}

#: Bandit rules raised to HIGH for plugin code, whatever Bandit's context-dependent severity:
#: a plugin has no business starting a process or a shell, or evaluating strings as code.
BANDIT_SEVERITY_OVERRIDES: dict[str, str] = {
    "B102": HIGH,  # exec()
    "B307": HIGH,  # eval()
    "B602": HIGH,  # subprocess with shell=True
    "B603": HIGH,  # subprocess without a shell: still another program
    "B605": HIGH,  # os.system / os.popen / ... (a shell)
    "B606": HIGH,  # os.exec* / os.spawn* / os.startfile (no shell)
}
#: Bandit's rules about starting processes: where one is HIGH, our PY104 on that line repeats it.
BANDIT_PROCESS_RULES = frozenset({"B602", "B603", "B604", "B605", "B606", "B607"})


def finding(
    rule_id: str,
    file: str,
    line: int,
    detail: str,
    *,
    severity: str | None = None,
    confidence: str = HIGH,
) -> Finding:
    """Build a finding of one of our rules: ``"<title>: <detail>"`` with the rule's fix hint."""
    rule = RULES[rule_id]
    return Finding(
        rule_id=rule_id,
        severity=severity or rule.severity,
        confidence=confidence,
        file=file,
        line=line,
        message=f"{rule.title}: {detail}" if detail else rule.title,
        fix_hint=rule.fix_hint,
    )
