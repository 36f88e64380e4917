"""R rules (R000-R012) from R's own parser, run in the sandbox container (or host R in dev)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from omniscope_jupyter.scan.r_runners import DockerRRunner
from omniscope_jupyter.scan.report import ScanReport
from omniscope_jupyter.scan.scanner import PackageScanner

from .helpers import CORPUS, located, scan_dir, severity_of


@pytest.fixture(scope="module")
def r_bad(r_runner: Callable[..., str]) -> ScanReport:
    return scan_dir(CORPUS / "r_bad", PackageScanner(r_runner=r_runner))


EXPECTED = [
    ("R001", "r_bad.R", 2, "HIGH"),  # system("id")
    ("R001", "r_bad.R", 3, "HIGH"),  # system2
    ("R001", "r_bad.R", 4, "HIGH"),  # shell
    ("R001", "r_bad.R", 5, "HIGH"),  # pipe
    ("R001", "r_bad.R", 6, "HIGH"),  # base::system
    ("R001", "r_bad.R", 7, "HIGH"),  # "system"("hostname")
    ("R001", "r_bad.R", 8, "HIGH"),  # runner <- system
    ("R002", "code.R", 2, "HIGH"),  # eval(parse(text = ...))
    ("R002", "code.R", 3, "HIGH"),  # str2lang
    ("R003", "code.R", 4, "HIGH"),  # do.call("system", ...)
    ("R003", "code.R", 5, "LOW"),  # match.fun("rbind")
    ("R003", "code.R", 6, "MEDIUM"),  # get(name_from_input)
    ("R004", "code.R", 7, "MEDIUM"),  # source
    ("R005", "io.R", 2, "HIGH"),  # download.file
    ("R005", "io.R", 3, "HIGH"),  # url
    ("R005", "io.R", 4, "HIGH"),  # socketConnection
    ("R005", "io.R", 5, "HIGH"),  # read.csv("https://...")
    ("R006", "io.R", 6, "HIGH"),  # .Call
    ("R006", "io.R", 7, "HIGH"),  # .C
    ("R006", "io.R", 8, "HIGH"),  # .External
    ("R006", "io.R", 9, "HIGH"),  # dyn.load
    ("R007", "io.R", 10, "MEDIUM"),  # Sys.setenv
    ("R007", "io.R", 11, "MEDIUM"),  # Sys.chmod
    ("R008", "io.R", 12, "HIGH"),  # unlink
    ("R008", "io.R", 13, "HIGH"),  # file.remove
    ("R009", "packages.R", 2, "HIGH"),  # install.packages
    ("R009", "packages.R", 3, "HIGH"),  # BiocManager::install
    ("R010", "packages.R", 4, None),  # readRDS: HIGH before R 4.4, MEDIUM after
    ("R010", "packages.R", 5, None),  # load
    ("R010", "packages.R", 6, None),  # unserialize
    ("R011", "packages.R", 7, "HIGH"),  # library(httr)
    ("R011", "packages.R", 8, "HIGH"),  # require("curl")
    ("R011", "packages.R", 9, "HIGH"),  # httr::GET
    ("R012", "packages.R", 10, "HIGH"),  # write.csv
    ("R012", "packages.R", 11, "HIGH"),  # file(..., "w")
    ("R000", "broken.R", 2, "HIGH"),  # syntax error
]


@pytest.mark.parametrize(("rule", "file", "line", "severity"), EXPECTED)
def test_rule_found_at_its_line(
    r_bad: ScanReport, rule: str, file: str, line: int, severity: str | None
) -> None:
    assert (rule, file, line) in located(r_bad)
    if severity:
        assert severity_of(r_bad, rule, file, line) == severity


def test_harmless_calls_are_not_flagged(r_bad: ScanReport) -> None:
    found = located(r_bad)
    assert not {x for x in found if x[1] == "code.R" and x[2] == 8}  # do.call(rbind, ...)
    assert not {x for x in found if x[1] == "packages.R" and x[2] == 12}  # file(..., "r")


def test_deserialisation_severity_follows_the_r_version(r_bad: ScanReport) -> None:
    [parser] = [s for s in r_bad.scanners if s.startswith("r-parser")]
    version = tuple(int(p) for p in parser.split("R ")[1].rstrip(")").split(".")[:2])
    expected = "MEDIUM" if version >= (4, 4) else "HIGH"
    assert severity_of(r_bad, "R010", "packages.R", 4) == expected


def test_declared_permissions_lower_network_and_delete(
    tmp_path: Path, r_runner: Callable[..., str]
) -> None:
    (tmp_path / "p.R").write_text(
        'download.file("https://x.org/a", "a")\nunlink("a")\nlibrary(httr)\n'
    )
    report = PackageScanner(r_runner=r_runner).scan(
        tmp_path, {"language": "r", "entry_point": "p.R", "permissions": ["network", "file_system"]}
    )
    assert {(f.rule_id, f.line, f.severity) for f in report.findings} == {
        ("R005", 1, "LOW"),
        ("R008", 2, "LOW"),
    }


def test_r_system_alone_blocks(tmp_path: Path, r_runner: Callable[..., str]) -> None:
    (tmp_path / "p.R").write_text('f <- function() {\n  system("echo hi")\n}\n')
    report = PackageScanner(r_runner=r_runner).scan(
        tmp_path, {"language": "r", "entry_point": "p.R"}
    )
    assert report.blocking
    assert [(f.rule_id, f.file, f.line) for f in report.findings] == [("R001", "p.R", 2)]


def test_a_failing_extractor_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "p.R").write_text("x <- 1\n")

    def broken(*args: object) -> str:
        return "not json"

    report = PackageScanner(r_runner=broken).scan(tmp_path, {"language": "r", "entry_point": "p.R"})
    assert [(f.rule_id, f.severity) for f in report.findings] == [("R099", "HIGH")]


PROBE = r"""
status <- readLines("/proc/self/status")
field <- function(k) trimws(sub(paste0("^", k, ":"), "", grep(paste0("^", k, ":"), status, value = TRUE)))
net <- tryCatch({ s <- socketConnection("1.1.1.1", 80, timeout = 2); "open" }, error = function(e) "refused",
                warning = function(w) "refused")
writeLines(sprintf('{"uid": "%s", "cap_eff": "%s", "net": "%s", "root_writable": %s, "plugin_writable": %s}',
    strsplit(field("Uid"), "\\s+")[[1]][1], field("CapEff"), net,
    tolower(file.access("/", 2) == 0), tolower(file.access("/plugin", 2) == 0)),
    Sys.getenv("OMNISCOPE_SCAN_OUTPUT"))
"""


def test_container_is_hardened(docker_r_runner: DockerRRunner, tmp_path: Path) -> None:
    """The extractor runs as nobody, without capabilities or network, on read-only mounts."""
    script = tmp_path / "probe.R"
    script.write_text(PROBE)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "p.R").write_text("x <- 1\n")
    facts = json.loads(docker_r_runner(script, tmp_path / "pkg", ["p.R"]))
    assert facts == {
        "uid": "65534",
        "cap_eff": "0000000000000000",
        "net": "refused",
        "root_writable": False,
        "plugin_writable": False,
    }


def test_container_parses_the_corpus(docker_r_runner: DockerRRunner) -> None:
    report = scan_dir(CORPUS / "r_bad", PackageScanner(r_runner=docker_r_runner))
    assert ("R001", "r_bad.R", 2) in located(report)
    assert any(s.startswith("r-parser (R 4.") for s in report.scanners)


def _long_clean_r_plugin(folder: Path, functions: int = 400) -> Path:
    """A clean R plugin of about 2000 lines: many calls, so the extractor's facts are large."""
    folder.mkdir()
    body = "".join(
        f"step_{i} <- function(df) {{\n"
        f"  m <- mean(df$x, na.rm = TRUE) + stats::sd(df$x)\n"
        f"  label <- paste0(\"column_\", {i}, \"_\", nrow(df))\n"
        f"  data.frame(value = round(m, 3), label = toupper(label))\n"
        f"}}\n"
        for i in range(functions)
    )
    (folder / "long.R").write_text(body)
    (folder / "manifest.json").write_text(json.dumps({"language": "r", "entry_point": "long.R"}))
    return folder


def test_a_long_clean_r_plugin_is_scanned_whole(
    docker_r_runner: DockerRRunner, tmp_path: Path
) -> None:
    """The facts of 2000 lines are far over the container's log cap; they come back whole."""
    from omniscope_jupyter.scan.r_scan import R_RULES_SCRIPT

    plugin = _long_clean_r_plugin(tmp_path / "long")
    assert len((plugin / "long.R").read_text().splitlines()) == 2000
    out = docker_r_runner(R_RULES_SCRIPT, plugin, ["long.R"])
    assert len(out.encode()) > 2 * 128 * 1024  # twice the json-file log cap (128 KiB)
    [facts] = json.loads(out)["files"]
    assert facts["error"] is None
    assert {c["name"] for c in facts["calls"]} >= {"mean", "sd", "paste0", "data.frame"}
    report = PackageScanner(r_runner=docker_r_runner).scan(
        plugin, {"language": "r", "entry_point": "long.R"}
    )
    assert report.findings == [] and not report.blocking


def test_a_symlinked_output_is_not_followed(
    docker_r_runner: DockerRRunner, tmp_path: Path
) -> None:
    """The facts file is read like a plugin's result: a link planted in its place is refused."""
    from omniscope_jupyter.scan.r_scan import RScanError

    script = tmp_path / "link.R"
    script.write_text('file.symlink("/etc/passwd", Sys.getenv("OMNISCOPE_SCAN_OUTPUT"))\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "p.R").write_text("x <- 1\n")
    with pytest.raises(RScanError, match="symbolic link"):
        docker_r_runner(script, tmp_path / "pkg", ["p.R"])


def test_sourcing_a_file_of_the_package_by_name_is_no_finding(
    tmp_path: Path, r_runner: Callable[..., str]
) -> None:
    """A test script sourcing the plugin sources a scanned file; anything else is R004."""
    (tmp_path / "p.R").write_text("f <- function() 1\n")
    (tmp_path / "test_p.R").write_text(
        'sys.source("p.R", envir = environment())\nsource(path)\nsource("other.R")\n'
    )
    report = PackageScanner(r_runner=r_runner).scan(
        tmp_path, {"language": "r", "entry_point": "p.R"}
    )
    assert located(report) == {("R004", "test_p.R", 2), ("R004", "test_p.R", 3)}
