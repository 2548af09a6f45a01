"""The wheel as a user meets it: built once, installed where there is no Rust.

``scripts/build-dist.sh`` (the one documented build command) makes the abi3
manylinux wheel and the sdist once per test session (or the tests take an
already built ``dist`` folder from ``HOPFIELD_DIST``). The wheel is then
installed into fresh virtual environments of CPython 3.10, 3.12 and 3.13 whose
``PATH`` has no ``cargo`` or ``rustc``, where ``tests/wheel_smoke.py`` stores,
retrieves (against the NumPy reference), saves and loads, and the ``hopfield``
command runs its quick demo. The same smoke test runs on emulated older CPUs
(Debian's ``qemu-user``): a Sandy Bridge (popcnt, no AVX2) and a Broadwell
(AVX2, no AVX-512), each of which must report its own kernel level, and the
portable kernels are forced through ``HOPFIELD_SIMD=portable``. A wheel built
with a newer instruction set than the CPU has would die there of an illegal
instruction.

Every tool these tests need is installed by ``.ci/run``: the build tools come
with the ``test`` extra, the interpreters with pyenv, QEMU from Debian.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import hopfield
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = ROOT / "scripts" / "build-dist.sh"
SMOKE = Path(__file__).resolve().parent / "wheel_smoke.py"
#: The interpreters the wheel is installed into (pyenv versions on these machines).
PYTHONS = {"3.10": "3.10.13", "3.12": "3.12.1", "3.13": "3.13.0"}
#: The emulated CPUs and the kernel level each must report.
EMULATED = {"SandyBridge": "popcnt", "Broadwell": "avx2"}
#: The manylinux tag the wheel promises (glibc 2.17).
MANYLINUX = "manylinux_2_17_x86_64"


class Dist:
    """The built distribution: one wheel, one sdist, and what building printed."""

    def __init__(self, folder: Path, log: str) -> None:
        wheels = sorted(folder.glob("hopfield-*.whl"))
        sdists = sorted(folder.glob("hopfield-*.tar.gz"))
        assert len(wheels) == 1, f"expected one wheel in {folder}, found {wheels}"
        assert len(sdists) == 1, f"expected one sdist in {folder}, found {sdists}"
        self.wheel, self.sdist, self.log = wheels[0], sdists[0], log


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The wheel and sdist, built once per session by the documented command."""
    given = os.environ.get("HOPFIELD_DIST")
    if given:
        return Dist(Path(given), "")
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ)
    # The build tools (maturin, auditwheel, ziglang) live beside this interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.monotonic() - start
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"scripts/build-dist.sh failed:\n{log[-5000:]}"
    print(f"\nbuild-dist: wheel and sdist built in {seconds:.0f} s")
    return Dist(out, log)


def _clean_env(path: str) -> dict[str, str]:
    """This process's environment with ``path`` as PATH and no Python or SIMD settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYENV_VERSION", "HOPFIELD_SIMD"}
    }
    env["PATH"] = path
    return env


def _interpreter(version: str) -> Path:
    """The real executable of pyenv's CPython ``version`` (e.g. ``3.12.1``)."""
    short = ".".join(version.split(".")[:2])
    env = dict(os.environ, PYENV_VERSION=version)
    try:
        proc = subprocess.run(
            [f"python{short}", "-c", "import sys; print(sys.executable)"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        pytest.fail(f"python{short} not found: install CPython {version} with pyenv")
    assert proc.returncode == 0, f"CPython {version} (pyenv) is missing:\n{proc.stderr}"
    return Path(proc.stdout.strip())


@pytest.fixture(scope="session")
def rustless_venv(
    dist: Dist, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], tuple[Path, dict[str, str]]]]:
    """``make(minor)``: a fresh venv of that CPython with the wheel installed, and
    the environment to run it in (a PATH with neither cargo nor rustc)."""
    made: dict[str, tuple[Path, dict[str, str]]] = {}

    def make(minor: str) -> tuple[Path, dict[str, str]]:
        if minor in made:
            return made[minor]
        venv = tmp_path_factory.mktemp(f"venv{minor.replace('.', '')}")
        subprocess.run(
            [str(_interpreter(PYTHONS[minor])), "-m", "venv", str(venv)],
            check=True,
            timeout=300,
        )
        env = _clean_env(os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]))
        for tool in ("cargo", "rustc"):
            assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is on the test PATH"
        # Only binaries: were pip to fall back to building anything, it would fail here.
        proc = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
             "--disable-pip-version-check", "--only-binary", ":all:", str(dist.wheel)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"pip install of the wheel failed:\n{proc.stderr[-3000:]}"
        made[minor] = (venv, env)
        return made[minor]

    yield make


def _smoke(
    python: Path, env: dict[str, str], cwd: Path, prefix: tuple[str, ...] = ()
) -> dict[str, object]:
    """Run the smoke script (under ``prefix``, e.g. an emulator); its JSON report."""
    proc = subprocess.run(
        [*prefix, str(python), str(SMOKE)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"smoke test failed ({prefix}):\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(report, dict)
    return report


def test_wheel_is_abi3_manylinux(dist: Dist) -> None:
    version = hopfield.__version__
    assert dist.wheel.name == (
        f"hopfield-{version}-cp310-abi3-manylinux2014_x86_64.{MANYLINUX}.whl"
    ), dist.wheel.name
    with zipfile.ZipFile(dist.wheel) as whl:
        wheel_meta = whl.read(f"hopfield-{version}.dist-info/WHEEL").decode()
        names = whl.namelist()
    assert "Root-Is-Purelib: false" in wheel_meta
    assert f"Tag: cp310-abi3-{MANYLINUX}" in wheel_meta
    assert "hopfield/_core.abi3.so" in names
    assert "hopfield/py.typed" in names and "hopfield/_core.pyi" in names
    # auditwheel's own verdict on the built wheel (also printed by the script).
    proc = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(dist.wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f'consistent with the following platform tag:\n"{MANYLINUX}"' in proc.stdout, proc.stdout


def test_sdist_holds_the_sources(dist: Dist) -> None:
    version = hopfield.__version__
    assert dist.sdist.name == f"hopfield-{version}.tar.gz"
    with tarfile.open(dist.sdist) as tar:
        names = set(tar.getnames())
    top = f"hopfield-{version}"
    needed_files = (
        "pyproject.toml",
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "src/python/mod.rs",
        "python/hopfield/__init__.py",
        "python/hopfield/_core.pyi",
    )
    for needed in needed_files:
        assert f"{top}/{needed}" in names, f"{needed} is missing from the sdist"


def test_sdist_builds_from_source(dist: Dist, tmp_path: Path) -> None:
    """pip builds a working package from the sdist where Rust exists (a debug build,
    sharing the repository's cargo cache, to keep it to a minute or two)."""
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = str(ROOT / "target")
    env["MATURIN_PEP517_ARGS"] = "--profile dev"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-w", str(tmp_path), str(dist.sdist)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"building the sdist failed:\n{proc.stderr[-3000:]}"
    built = list(tmp_path.glob("hopfield-*.whl"))
    assert len(built) == 1, built
    with zipfile.ZipFile(built[0]) as whl:
        assert any(name.startswith("hopfield/_core") for name in whl.namelist())


@pytest.mark.parametrize("minor", sorted(PYTHONS))
def test_wheel_works_without_rust(
    minor: str, rustless_venv: Callable[[str], tuple[Path, dict[str, str]]], tmp_path: Path
) -> None:
    venv, env = rustless_venv(minor)
    report = _smoke(venv / "bin" / "python", env, tmp_path)
    assert report["python"] == [int(part) for part in minor.split(".")]
    assert report["version"] == hopfield.__version__
    # Imported from the venv, not from the repository's python/ folder.
    assert str(report["file"]).startswith(str(venv)), report["file"]
    assert report["simd_level"] == report["detected_simd"]

    version = subprocess.run(
        ["hopfield", "--version"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert version.stdout.strip() == f"hopfield {hopfield.__version__}"
    demo = subprocess.run(
        ["hopfield", "demo", "--quick"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=900, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Rust" in demo.stdout and "reference" in demo.stdout.lower(), demo.stdout


def test_portable_kernels_forced(
    rustless_venv: Callable[[str], tuple[Path, dict[str, str]]], tmp_path: Path
) -> None:
    venv, env = rustless_venv("3.12")
    report = _smoke(venv / "bin" / "python", {**env, "HOPFIELD_SIMD": "portable"}, tmp_path)
    assert report["simd_level"] == "portable"
    assert report["detected_simd"] != "portable"  # the cap, not the CPU, chose it


def _qemu() -> str:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.fail("qemu-x86_64 not found: install Debian's qemu-user (.ci/run does)")
    return qemu


@pytest.mark.parametrize("cpu", sorted(EMULATED))
def test_wheel_on_emulated_cpu(
    cpu: str, rustless_venv: Callable[[str], tuple[Path, dict[str, str]]], tmp_path: Path
) -> None:
    venv, env = rustless_venv("3.12")
    python = venv / "bin" / "python"
    report = _smoke(python, env, tmp_path, prefix=(_qemu(), "-cpu", cpu))
    print(f"\n{cpu}: kernels {report['simd_level']} (detected {report['detected_simd']})")
    assert report["detected_simd"] == EMULATED[cpu]
    assert report["simd_level"] == EMULATED[cpu]
    portable = _smoke(
        python, {**env, "HOPFIELD_SIMD": "portable"}, tmp_path, prefix=(_qemu(), "-cpu", cpu)
    )
    assert portable["simd_level"] == "portable"
    assert portable["detected_simd"] == EMULATED[cpu]
