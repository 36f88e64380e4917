"""First start: the bundled example plugins seed the catalog, once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from omniscope_jupyter.marketplace import bundled_examples_dir

from ..helpers import REPO, manifest

pytestmark = pytest.mark.timeout(120)
EXAMPLES = REPO / "plugins" / "examples"


def _example_names() -> list[str]:
    return sorted(p.name for p in EXAMPLES.iterdir() if (p / "manifest.json").is_file())


async def test_seeded_examples_answer_the_spec_marketplace_calls(api: Any, market: Any) -> None:
    names = _example_names()
    assert len(names) >= 3
    assert bundled_examples_dir() == EXAMPLES
    published = market.catalog.seed_examples(EXAMPLES)
    assert sorted(p.split()[0] for p in published) == names
    assert market.catalog.seed_examples(EXAMPLES) == []  # idempotent

    status, body = await api("POST", "marketplace", "search", body={})
    assert (status, sorted(r["name"] for r in body["results"])) == (200, names)
    assert all(r["owner"] == "omniscope" and r["featured"] for r in body["results"])
    # Every example is featured; the list's default length (featured_count) is shorter.
    status, body = await api("GET", "marketplace", "featured", params={"limit": str(len(names))})
    assert sorted(r["name"] for r in body["results"]) == names
    status, body = await api("GET", "marketplace", "categories")
    assert sum(c["count"] for c in body["categories"]) == len(names)
    status, body = await api("POST", "marketplace", "install", body={"name": names[0]})
    assert status == 201, body


def test_seeding_skips_bad_folders_and_never_raises(market: Any, tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    good = examples / "good_one"
    good.mkdir(parents=True)
    (good / "manifest.json").write_text(json.dumps(manifest(name="good_one")))
    (good / "my_plugin.py").write_text("class P:\n    pass\n")
    bad = examples / "bad_one"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps(manifest(name="bad_one", version="x")))
    (examples / "not_a_plugin").mkdir()
    (examples / "junk").mkdir()
    (examples / "junk" / "manifest.json").write_text("{")
    assert market.catalog.seed_examples(examples) == ["good_one 1.0.0"]
    shutil.rmtree(examples)
    assert market.catalog.seed_examples(examples) == []
