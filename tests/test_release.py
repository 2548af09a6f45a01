"""The build settings: portable, and the same in the build script and the release
workflow (which cannot run here; its Linux x86-64 build is what the script does)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
BUILD_SCRIPT = ROOT / "scripts" / "build-dist.sh"


def workflow() -> dict:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def targets(job: dict) -> list[str]:
    return [p["target"] for p in job["strategy"]["matrix"]["platform"]]


def maturin_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith("PyO3/maturin-action@")]


def test_workflow_builds_every_platform_with_maturin_action() -> None:
    jobs = workflow()["jobs"]
    assert targets(jobs["linux"]) == ["x86_64", "aarch64"]
    assert targets(jobs["macos"]) == ["x86_64", "aarch64"]
    for name in ("linux", "macos", "windows", "sdist"):
        assert len(maturin_steps(jobs[name])) == 1, f"{name} does not build with maturin's action"
    assert maturin_steps(jobs["sdist"])[0]["with"]["command"] == "sdist"
    assert set(jobs["publish"]["needs"]) == {"linux", "macos", "windows", "sdist"}
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    # PyYAML reads the key `on` as True.
    trigger = workflow()[True]
    assert trigger["push"]["tags"] == ["v*"]


def test_workflow_linux_build_matches_the_script() -> None:
    script = BUILD_SCRIPT.read_text(encoding="utf-8")
    assert "--compatibility manylinux_2_17" in script
    step = maturin_steps(workflow()["jobs"]["linux"])[0]["with"]
    assert step["manylinux"] == "2_17"
    assert "--release" in step["args"] and "--release" in script


def test_no_build_setting_names_a_target_cpu() -> None:
    # The wheel runs on baseline x86-64; the kernels pick their level at run time.
    configs = [ROOT / "Cargo.toml", ROOT / "pyproject.toml", WORKFLOW, ROOT / ".ci" / "run"]
    configs += [p for p in (ROOT / ".cargo").glob("config*")] if (ROOT / ".cargo").exists() else []
    for path in configs:
        assert "target-cpu" not in path.read_text(encoding="utf-8"), path


def test_build_script_refuses_a_target_cpu(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(tmp_path)],
        env={**os.environ, "RUSTFLAGS": "-C target-cpu=native"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "baseline x86-64" in proc.stderr
    assert not list(tmp_path.iterdir()), "it built something anyway"
