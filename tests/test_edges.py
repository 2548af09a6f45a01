"""The edges of the contract: the thirteen failures of the probe of the
public API (impossible sizes, huge counts, tiny rates, Ctrl-C during
stores, thread pools, non-regular files, the command line).

Every call that used to hang, abort, leak or be killed runs in a child
process with a watchdog and a cap on its address space, so that a
regression fails the test instead of taking the test run (or the machine)
down with it; the outcome (the exception, the prompt KeyboardInterrupt, the
thread count, the file's type and mode) is checked from what it prints.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import hopfield as hf
import numpy as np
import pytest
from hopfield import _core
from hopfield.lab import plot, theory
from hopfield.lab.letters import letter_patterns

WATCHDOG_S = 90

# Caps the child's address space (HOPFIELD_TEST_AS_GIB, 16 GiB by default) so
# that a regression that grows memory without bound ends in a failed
# allocation, never in the OOM killer.
_PRELUDE = """
import os, resource
_cap = int(os.environ.get("HOPFIELD_TEST_AS_GIB", "16")) << 30
resource.setrlimit(resource.RLIMIT_AS, (_cap, _cap))
"""


def _child(
    script: str, timeout: float = WATCHDOG_S, capped: bool = True
) -> tuple[int | str, str, str]:
    """Run ``script`` in a child (with its address space ``capped``):
    ``(returncode or "timeout", stdout, stderr)``."""
    prelude = _PRELUDE if capped else ""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return "timeout", out, ""
    return proc.returncode, proc.stdout, proc.stderr


def _expect(script: str, *lines: str, timeout: float = WATCHDOG_S, capped: bool = True) -> str:
    """Run ``script`` in a child; it must exit 0 and print every line of ``lines``."""
    rc, out, err = _child(script, timeout, capped)
    assert rc == 0, f"child: {rc}\n{out}\n{err[-3000:]}"
    for line in lines:
        assert line in out, out + err[-3000:]
    return out


# Prints "<label> <ExceptionName> <message>" (or "<label> ok") for each
# attempted call; the name is the built-in class (ValueError, not a subclass).
_ATTEMPT = """
import numpy as np, hopfield as hf
def attempt(label, f):
    try:
        f()
        print(label, "ok", flush=True)
    except Exception as exc:
        kind = next(c for c in type(exc).__mro__ if c.__module__ == "builtins").__name__
        print(label, kind, str(exc)[:200].replace("\\n", " "), flush=True)
"""


# 1 -------------------------------------------------------------- dilution


def test_a_dilution_below_float_resolution_builds_at_once() -> None:
    """``ln(1 − c)`` is 0 for c < ~1e-16: the geometric skips never advanced
    and memory grew without end. Now such a graph is (almost surely) empty."""
    _expect(
        _ATTEMPT
        + textwrap.dedent(
            """
        for rule in ("hebbian", "storkey", "covariance"):
            for c in (1e-17, 1e-300, 5e-324):
                kw = {"activity": 0.5} if rule == "covariance" else {}
                def build():
                    net = hf.HopfieldNetwork(1000, rule=rule, dilution=c, seed=0, **kw)
                    net.store(hf.random_patterns(2, 1000, seed=1))
                    q = hf.random_patterns(3, 1000, seed=2)
                    # No connections: every field is zero, so nothing flips.
                    assert np.array_equal(net.retrieve(q, seed=0).states, q)
                attempt(f"{rule} {c}", build)
        """
        ),
        *(f"{r} {c} ok" for r in ("hebbian", "storkey", "covariance") for c in (1e-17, 5e-324)),
        timeout=60,
    )


# 2, 3 ------------------------------------------------ streams of a run


def test_impossible_stream_requests_are_memory_errors() -> None:
    """``acceptance_uniforms`` of 10^18 entries aborted the process (SIGABRT)."""
    _expect(
        _ATTEMPT
        + textwrap.dedent(
            """
        from hopfield import _core
        attempt("u1", lambda: hf.acceptance_uniforms(10**9, 10**9, seed=0))
        attempt("u2", lambda: hf.acceptance_uniforms(2**40, 2, seed=0))
        attempt("o1", lambda: hf.sweep_orders(10**9, 10**9, seed=0))
        attempt("o2", lambda: hf.sweep_orders(2**40, 2, seed=0))
        # The extension itself refuses too (no abort behind the Python checks).
        attempt("c1", lambda: _core.acceptance_uniforms(10**9, 10**9, 0))
        attempt("c2", lambda: _core.acceptance_uniforms(2**40, 2, 0))
        attempt("c3", lambda: _core.sweep_orders(2**40, 2, 0))
        from hopfield.sampling import random_states
        attempt("r1", lambda: random_states(2**40, 2**30, seed=0))
        print("alive", hf.acceptance_uniforms(3, 2, seed=0).shape)
        """
        ),
        *(f"{label} MemoryError" for label in ("u1", "u2", "o1", "o2", "c1", "c2", "c3", "r1")),
        "alive (1, 2, 3)",
        timeout=60,
    )


def test_query_indices_never_wrap_past_2_to_the_64() -> None:
    """``first + count > 2**64`` wrapped query 2**64 around to query 0."""
    last = 2**64 - 1
    for f in (hf.acceptance_uniforms, hf.sweep_orders):
        with pytest.raises(ValueError, match=r"first \+ count must be at most 2\*\*64"):
            f(5, 1, seed=0, first=last, count=2)
        one = f(5, 1, seed=0, first=last, count=1)
        assert one.shape == (1, 1, 5)
    for f in (_core.acceptance_uniforms, _core.sweep_orders):
        with pytest.raises(ValueError, match=r"first \+ count must be at most 2\*\*64"):
            f(5, 1, 0, 2, last)
    with pytest.raises(ValueError, match=r"first \+ count"):
        _core.random_states(5, 2, 0, last)
    # The last query is not query 0 under another name.
    assert not np.array_equal(
        hf.acceptance_uniforms(5, 1, seed=0, first=last), hf.acceptance_uniforms(5, 1, seed=0)
    )


# 4, 5 ----------------------------------------------------------- threads


def test_thread_counts_above_the_cap_are_refused_at_once() -> None:
    """``threads=10**5`` built 10^5 OS threads before any work (> 150 s)."""
    cap = _core.max_threads()
    assert cap >= 16
    assert cap >= 4 * (os.cpu_count() or 1) or cap >= 4 * len(os.sched_getaffinity(0))
    _expect(
        _ATTEMPT
        + textwrap.dedent(
            f"""
        from hopfield import _core
        net = hf.HopfieldNetwork(64); net.store(hf.random_patterns(3, 64, seed=0))
        q = net.patterns
        for t in (10**5, 2**63, 2**70, {cap + 1}):
            attempt(f"retrieve {{t}}", lambda: net.retrieve(q, threads=t))
            attempt(f"sample {{t}}", lambda: hf.sample(net, temperature=1.0, n_samples=2,
                                                     threads=t))
            attempt(f"modern {{t}}", lambda: hf.ModernHopfield(threads=t))
        attempt("cap", lambda: net.retrieve(q, seed=0, threads={cap}))
        """
        ),
        *(
            f"{kind} {t} ValueError threads must be at most {cap}"
            for t in (10**5, 2**63, 2**70, cap + 1)
            for kind in ("retrieve", "sample", "modern")
        ),
        "cap ok",
        timeout=60,
    )


def test_the_os_thread_count_stays_bounded_whatever_threads_values_are_used() -> None:
    """Every distinct ``threads=`` value kept a pool for the life of the
    process (threads=1..60 left 1,832 OS threads). Now at most four pools
    are kept: the count stays below the four largest pools plus the start."""
    _expect(
        """
        import os, time, numpy as np, hopfield as hf
        from hopfield import _core
        def os_threads():
            return len(os.listdir("/proc/self/task"))
        net = hf.HopfieldNetwork(256); net.store(hf.random_patterns(5, 256, seed=0))
        q = hf.random_patterns(64, 256, seed=1)
        first = net.retrieve(q, seed=0).states
        base = os_threads()
        cap = _core.max_threads()
        sizes = list(range(1, cap + 1)) * 2
        for t in sizes:
            assert np.array_equal(net.retrieve(q, seed=0, threads=t).states, first)
        bound = base + sum(sorted(set(sizes))[-4:])
        deadline = time.monotonic() + 20  # released pools' threads exit asynchronously
        while os_threads() > bound and time.monotonic() < deadline:
            time.sleep(0.05)
        print("threads", os_threads(), "bound", bound, "unbounded", base + sum(set(sizes)))
        print("bounded", os_threads() <= bound)
        """,
        "bounded True",
        timeout=120,
        capped=False,  # many threads reserve much address space, legitimately
    )


# 6 ---------------------------------------- OverflowError where it must not


def test_huge_integers_are_value_or_memory_errors_not_overflow(tmp_path: Path) -> None:
    for rule in ("storkey", "pseudoinverse"):
        with pytest.raises(MemoryError, match="n = 1180591620717411303424"):
            hf.HopfieldNetwork(2**70, rule=rule)
    with pytest.raises(ValueError, match="threads must be at most"):
        hf.ModernHopfield(threads=2**70)
    with pytest.raises(ValueError, match="n must be a finite number of neurons"):
        theory.mceliece_capacity(10**400)
    with pytest.raises(ValueError, match="n must be a finite number of neurons"):
        theory.dense_exponential_capacity(float("inf"))
    with pytest.raises(MemoryError, match="scaled letter bitmaps"):
        letter_patterns("A", scale=2**63)
    # A file whose header claims n = 2**70 for a weight-matrix model.
    path = tmp_path / "huge.npz"
    net = hf.HopfieldNetwork(16, rule="storkey")
    net.store(hf.random_patterns(2, 16, seed=0))
    net.save(path)
    _rewrite_header(path, lambda h: h["params"].__setitem__("n", 2**70))
    with pytest.raises(ValueError, match="huge.npz.*not a readable hopfield model file"):
        hf.load(path)
    path2 = tmp_path / "threads.npz"
    modern = hf.ModernHopfield(2.0)
    modern.store(np.eye(3))
    modern.save(path2)
    _rewrite_header(path2, lambda h: h["params"].__setitem__("threads", 2**70))
    with pytest.raises(ValueError, match="threads.npz.*not a readable hopfield model file"):
        hf.load(path2)


def _rewrite_header(path: Path, edit: object) -> None:
    with np.load(path, allow_pickle=False) as f:
        members = {k: f[k] for k in f.files}
    header = json.loads(members.pop("__hopfield__").tobytes())
    edit(header)  # type: ignore[operator]
    np.savez(path, __hopfield__=np.frombuffer(json.dumps(header).encode(), np.uint8), **members)


# 7 -------------------------------------------- Ctrl-C during a learning rule

_STORE_INTERRUPT = """
import os, signal, threading, time, numpy as np, hopfield as hf
rule, n, p, kw = {rule!r}, {n}, {p}, {kw!r}
net = hf.HopfieldNetwork(n, rule=rule, **kw)
net.store(hf.random_patterns(3, n, seed=0))
before_w = net.weights.copy()
q = hf.random_patterns(4, n, seed=9)
before_r = net.retrieve(q, seed=1).states
big = hf.random_patterns(p, n, seed=1)
print("started", flush=True)
t = time.perf_counter()
try:
    net.store(big)
    print("finished without interrupt after", time.perf_counter() - t, flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    print("patterns", net.num_patterns, flush=True)
    print("unchanged", np.array_equal(net.weights, before_w), flush=True)
    print("usable", np.array_equal(net.retrieve(q, seed=1).states, before_r), flush=True)
"""

# The bound on the latency is loose because the machine may be loaded; it is
# still far below the stores' length.
INTERRUPT_LIMIT_S = 5.0

# Sizes that take many seconds even on a fast machine (tens on a slow one).
_STORES = {
    "storkey": (3000, 2000, {}),
    "covariance": (6000, 12000, {"activity": 0.3}),
    "pseudoinverse": (4000, 3000, {}),
}


@pytest.mark.parametrize("rule", sorted(_STORES))
def test_ctrl_c_stops_a_long_store_and_leaves_the_model_as_it_was(rule: str) -> None:
    """A Storkey store at N = 6000 stopped 45 s after SIGINT, covariance
    15 s, pseudo-inverse not within 10 s; and a late KeyboardInterrupt came
    after the store had changed the model. The rules now look for signals
    between chunks and the model keeps what it had before the call."""
    n, p, kw = _STORES[rule]
    script = _PRELUDE + textwrap.dedent(_STORE_INTERRUPT.format(rule=rule, n=n, p=p, kw=kw))
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.startswith("started"), line + proc.stderr.read()[-2000:]
            time.sleep(1.0)
            sent = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            # Nothing is buffered past "started" (the child is in the store),
            # so the pipe itself says when the next line comes; a store that
            # ignores the signal fails here instead of running to its end.
            ready, _, _ = select.select([proc.stdout], [], [], INTERRUPT_LIMIT_S)
            assert ready, f"no KeyboardInterrupt {INTERRUPT_LIMIT_S} s after SIGINT"
            line = proc.stdout.readline()
            latency = time.perf_counter() - sent
            proc.wait(timeout=WATCHDOG_S)
            # From the same buffered reader: communicate() would skip what
            # readline() has already buffered.
            rest, err = proc.stdout.read(), proc.stderr.read()
        finally:
            proc.kill()
    print(f"{rule}: KeyboardInterrupt {latency * 1000:.0f} ms after SIGINT")
    assert line.startswith("interrupted"), line + rest + err[-2000:]
    assert "patterns 3" in rest, rest + err[-2000:]
    assert "unchanged True" in rest, rest + err[-2000:]
    assert "usable True" in rest, rest + err[-2000:]
    assert latency < INTERRUPT_LIMIT_S, f"took {latency:.2f} s to honour Ctrl-C"


# 8, 9 ------------------------------------------------- impossible sizes


def test_zero_stride_views_of_impossible_sizes_are_refused_first() -> None:
    """A broadcast view of 10^12 rows was materialised (a hang, Ctrl-C
    ignored) instead of being refused."""
    _expect(
        _ATTEMPT
        + textwrap.dedent(
            """
        huge = np.broadcast_to(np.int8(1), (10**12, 64))
        net = hf.HopfieldNetwork(64)
        attempt("store", lambda: net.store(huge))
        attempt("retrieve", lambda: net.retrieve(huge))
        attempt("energy", lambda: net.energy(huge))
        attempt("as_spins", lambda: hf.as_spins(np.broadcast_to(True, (10**13,))))
        attempt("corrupt", lambda: hf.corrupt(huge, flip=0.1, seed=0))
        dense = hf.DenseAssociativeMemory(64)
        attempt("dense", lambda: dense.store(huge))
        print("stored", net.num_patterns)
        """
        ),
        "store MemoryError",
        "retrieve MemoryError",
        "energy MemoryError",
        "as_spins MemoryError",
        "corrupt MemoryError",
        "dense MemoryError",
        "stored 0",
        timeout=60,
    )


def test_the_reference_refuses_impossible_sizes_before_building_them() -> None:
    """``reference.retrieve_sync`` at N = 65,537 built N × N with no check
    and was killed by the OOM killer (it is pattern-factored now and builds
    no N × N); every reference function that does build an N × N (or a
    (B, P)) array checks it against the memory available, like the library."""
    _expect(
        _ATTEMPT
        + textwrap.dedent(
            """
        from hopfield import reference as ref
        n = 2**21  # N × N float32 is 16 TiB
        x = np.ones((1, n), np.int8)
        attempt("integer_weights", lambda: ref.integer_weights(x))
        attempt("hebbian_weights", lambda: ref.hebbian_weights(x))
        attempt("storkey", lambda: ref.storkey_weights(x))
        attempt("pseudoinverse", lambda: ref.pseudoinverse_weights(x))
        attempt("covariance", lambda: ref.covariance_weights(x, 0.5))
        attempt("sequence", lambda: ref.sequence_weights([x]))
        k = np.ones((2**21, 1))
        attempt("attention", lambda: ref.modern_attention(k, np.ones((2**21, 1)), 1.0))
        """
        ),
        *(
            f"{label} MemoryError {what}"
            for label, what in (
                ("integer_weights", "the weight matrix"),
                ("hebbian_weights", "the weight matrix"),
                ("storkey", "the weight matrix"),
                ("pseudoinverse", "the weight matrix"),
                ("covariance", "the weight matrix"),
                ("sequence", "the weight matrix"),
                ("attention", "the (B, P) scores"),
            )
        ),
        "bytes of memory are available",  # the library's check, not NumPy's
        timeout=60,
    )


# 10, 11 --------------------------------------------------- files


def _model() -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(32)
    net.store(hf.random_patterns(3, 32, seed=0))
    return net


def _same(a: hf.HopfieldNetwork, b: hf.HopfieldNetwork) -> bool:
    return bool(np.array_equal(a.patterns, b.patterns))


def test_save_gives_new_files_the_umask_mode_and_keeps_an_existing_mode(tmp_path: Path) -> None:
    """Every save made a 0600 file (tempfile's mode), whatever the umask."""
    old = os.umask(0o027)
    try:
        _model().save(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o640
    kept = tmp_path / "kept.npz"
    kept.write_bytes(b"old")
    os.chmod(kept, 0o604)
    _model().save(kept)
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o604
    assert _same(hf.load(kept), _model())


def test_save_follows_a_symlink_and_replaces_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real.npz"
    real.write_bytes(b"old")
    os.chmod(real, 0o644)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    _model().save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o644
    assert _same(hf.load(real), _model())
    # A dangling link: the file it names is created.
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "made.npz")
    _model().save(dangling)
    assert dangling.is_symlink() and _same(hf.load(tmp_path / "made.npz"), _model())
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".hopfield-")]


def _specials(tmp_path: Path) -> dict[str, Path]:
    """A FIFO, a socket, a directory and a link to the FIFO."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "to-fifo"
    link.symlink_to(fifo)
    return {"a FIFO": fifo, "a socket": sock_path, "a directory": folder, "a FIFO ": link}


def test_save_refuses_fifos_sockets_devices_and_directories(tmp_path: Path) -> None:
    """A FIFO (or a device: as root, /dev/full) at the target became a
    regular file; now nothing but a regular file is ever replaced."""
    for what, path in _specials(tmp_path).items():
        kind = os.stat(path).st_mode
        with pytest.raises(ValueError, match=f"it is {what.strip()}"):
            _model().save(path)
        assert stat.S_IFMT(os.stat(path).st_mode) == stat.S_IFMT(kind)
    # A character device, through a link (never written: refused first).
    dev = tmp_path / "dev"
    dev.symlink_to(os.devnull)
    with pytest.raises(ValueError, match="it is a character device"):
        _model().save(dev)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".hopfield-")]


def test_load_refuses_anything_but_a_regular_file_without_blocking(tmp_path: Path) -> None:
    """``hf.load`` of a FIFO blocked forever (waiting for a writer)."""
    specials = _specials(tmp_path)
    paths = [(k, str(v)) for k, v in specials.items()] + [("dev", os.devnull)]
    out = _expect(
        _ATTEMPT
        + textwrap.dedent(
            f"""
        for what, path in {paths!r}:
            attempt(what, lambda: hf.load(path))
        """
        ),
        timeout=60,
    )
    for what in specials:
        assert f"{what} ValueError" in out and f"it is {what.strip()}" in out, out
    assert "dev ValueError" in out and "it is a character device" in out, out


# 12 ---------------------------------------------------- the command line


@pytest.mark.parametrize(
    "extra, option",
    [
        (["--json", "."], "--json"),
        (["--json", "/dev/full"], "--json"),
        (["--threads", "999999999999999999999"], "--threads"),
    ],
)
def test_the_command_line_names_the_bad_option_and_exits_2(extra: list[str], option: str) -> None:
    """These printed a traceback and exited 1."""
    proc = subprocess.run(
        [sys.executable, "-m", "hopfield", "capacity", "--n", "40", "--trials", "1"]
        + ["--loads", "0.1", "--no-progress", *extra],
        capture_output=True,
        text=True,
        timeout=WATCHDOG_S,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and option in errors[0], proc.stderr


# 13 --------------------------------------------------------------- minor


def test_plots_refuse_empty_or_wrong_inputs_with_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least one pattern"):
        plot.pattern_grid(np.empty((0, 6)), (2, 3))
    with pytest.raises(TypeError, match="census must be a SpuriousCensus"):
        plot.census_plot({})  # type: ignore[arg-type]


def test_dense_polynomial_capacity_of_a_huge_degree_is_prompt() -> None:
    """``dense_polynomial_capacity(100, 10**6)`` multiplied out a double
    factorial of two million factors (> 100 s). Now it is logarithmic."""
    out = _expect(
        """
        from hopfield.lab import theory
        print("k", theory.dense_polynomial_capacity(100, 10**6))
        print("big", theory.dense_polynomial_capacity(10**6, 10**4))
        """,
        timeout=30,
    )
    assert "k 0.0" in out and "big inf" in out, out
    # The log-domain formula agrees with the exact one where both apply.
    for d in (2, 3, 7, 100):
        exact = theory.dense_polynomial_capacity(50, d)
        m = d - 1
        log_df = math.lgamma(2 * m + 1) - m * math.log(2.0) - math.lgamma(m + 1)
        logk = m * math.log(50) - math.log(2.0) - log_df - math.log(math.log(50))
        assert math.isclose(exact, math.exp(logk), rel_tol=1e-9)
    assert theory.dense_polynomial_capacity(1000, 2) == theory.mceliece_capacity(1000)
    assert math.isclose(
        theory.dense_polynomial_capacity(200, 101),
        math.exp(
            100 * math.log(200)
            - math.log(2.0)
            - (math.lgamma(201) - 100 * math.log(2.0) - math.lgamma(101))
            - math.log(math.log(200))
        ),
        rel_tol=1e-9,
    )
