"""``hopfield app`` in a real browser: Debian's Chromium driven by Playwright.

Chromium comes from the system (``apt-get install chromium``, which ``.ci/run``
runs); Playwright is given its path, so no browser is downloaded. The tests
draw a corrupted letter with the mouse and read back the retrieved one, move
the β slider and watch the weights sharpen, and click the energy landscape and
follow the trajectory to a fixed point. Each test saves a screenshot of its
panel: to ``$HOPFIELD_SCREENSHOTS`` when set (``docs/`` regenerates the
README's pictures), else to a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref
from hopfield.app import server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INK = (255, 77, 109)  # the trajectory's colour in app.js


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with server.running() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.fail("the browser tests need Chromium: apt-get install -y chromium (Debian)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1300, "height": 860})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    pg.on(
        "request",
        lambda r: r.url.startswith(app_url) or problems.append(f"request elsewhere: {r.url}"),
    )
    pg.goto(app_url)
    pg.wait_for_selector("body[data-ready='1']")
    yield pg
    context.close()
    assert problems == []


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HOPFIELD_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def idle(page: Any) -> None:
    page.wait_for_function("() => !document.body.dataset.busy")


def grid_state(page: Any) -> np.ndarray:
    text = page.eval_on_selector("#grid", "g => g.dataset.state")
    return np.array([1 if ch == "+" else -1 for ch in text], dtype=np.int8)


def draw_strokes(page: Any, state: np.ndarray, rows: int, cols: int) -> None:
    """Ink the +1 cells of ``state`` with the mouse: one drag per run of a row."""
    box = page.locator("#grid").bounding_box()

    def centre(r: int, c: int) -> tuple[float, float]:
        return box["x"] + (c + 0.5) * box["width"] / cols, box["y"] + (r + 0.5) * box[
            "height"
        ] / rows

    grid = state.reshape(rows, cols)
    for r in range(rows):
        c = 0
        while c < cols:
            if grid[r, c] != 1:
                c += 1
                continue
            end = c
            while end + 1 < cols and grid[r, end + 1] == 1:
                end += 1
            page.mouse.move(*centre(r, c))
            page.mouse.down()
            page.mouse.move(*centre(r, end), steps=max(1, 2 * (end - c)))
            page.mouse.up()
            c = end + 1


def test_draw_a_corrupted_letter_and_retrieve_it(page: Any, shots: Path) -> None:
    letters, shape = hf.letter_patterns("ABCDEFG")
    page.select_option("#memory-set", "A-G")
    page.wait_for_selector("#memory-list[data-count='7']")
    assert page.input_value("#model") == "pseudoinverse"
    query = letters[3].copy()
    query[[3, 20, 40, 57]] *= -1  # two cells inked by mistake, two missed
    page.click("#clear")
    draw_strokes(page, query, *shape)
    assert np.array_equal(grid_state(page), query)  # the mouse drew what we meant

    net = hf.HopfieldNetwork(63, rule="pseudoinverse")
    net.store(letters)
    expected = net.retrieve(query, update="sync", max_sweeps=1).states
    assert np.array_equal(expected, letters[3])
    page.click("#btn-sync")
    idle(page)
    assert np.array_equal(grid_state(page), letters[3])
    assert page.text_content("#reached") == "memory D"
    assert float(page.text_content("#energy")) == pytest.approx(float(net.energy(letters[3])))
    overlaps = np.array(page.eval_on_selector("#overlaps", "b => JSON.parse(b.dataset.values)"))
    np.testing.assert_allclose(overlaps, letters @ letters[3] / 63)

    # erase one cell; the asynchronous step (animated) repairs it
    page.check("#tool-erase")
    on = int(np.flatnonzero(letters[3] == 1)[0])
    box = page.locator("#grid").bounding_box()
    r, c = divmod(on, shape[1])
    page.mouse.click(
        box["x"] + (c + 0.5) * box["width"] / 7, box["y"] + (r + 0.5) * box["height"] / 9
    )
    assert grid_state(page)[on] == -1
    page.click("#btn-step")
    idle(page)
    assert np.array_equal(grid_state(page), letters[3])
    assert page.text_content("#sweeps") == "2"
    page.screenshot(path=str(shots / "app-draw-letters.png"))


def test_a_32_by_32_update_round_trip(page: Any, shots: Path) -> None:
    """Time an update for a 32 × 32 grid (browser → engine → browser); no timed assertion."""
    page.select_option("#grid-size", "32x32")
    page.select_option("#memory-set", "A-G")
    page.wait_for_selector("#memory-list[data-count='7']")
    page.wait_for_function("() => document.querySelector('#grid').dataset.shape === '32x32'")
    page.click("#memory-list canvas[data-index='1']")  # draw a "B"
    page.fill("#corrupt-pct", "12")
    page.click("#corrupt")
    page.wait_for_function("() => document.querySelector('#grid').dataset.state.length === 1024")
    times = []
    for _ in range(7):
        page.click("#btn-sync")
        idle(page)
        times.append(float(page.eval_on_selector("#roundtrip", "e => e.dataset.ms")))
    print(
        "\n32x32 update round trip (pseudo-inverse, 7 letters): "
        f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms over {len(times)}"
    )
    page.click("#btn-converge")
    idle(page)
    b = hf.datasets.letters("B").patterns[0]
    assert page.text_content("#reached") == "memory B"
    state = grid_state(page)
    assert state.shape == (1024,) and (state == 1).sum() > 9 * (b == 1).sum()
    page.screenshot(path=str(shots / "app-draw.png"))


def beta_weights(page: Any, position: int) -> tuple[float, list[float]]:
    page.fill("#beta-slider", str(position))
    page.wait_for_function(
        "() => !beta.pending && !beta.again && "
        "Number(document.querySelector('#beta-weights').dataset.beta) === betaValue()"
    )
    beta = float(page.eval_on_selector("#beta-weights", "w => w.dataset.beta"))
    weights = page.eval_on_selector("#beta-weights", "w => JSON.parse(w.dataset.values)")
    return beta, weights


def test_the_beta_slider_sharpens_the_weights(page: Any, shots: Path) -> None:
    page.click("#tab-beta")
    page.wait_for_selector("#beta-weights[data-beta]")
    # The page draws its noisy query from a random seed; a noisy letter can
    # lie as close to two letters as to its own, and then no β picks one
    # winner. The stored letter itself has one nearest pattern.
    page.fill("#beta-flip", "0")
    page.evaluate("betaQuery()")
    peaks = []
    for position in (0, 250, 500, 750, 1000):
        beta, weights = beta_weights(page, position)
        assert beta == pytest.approx(10 ** (-2 + 4 * position / 1000))
        assert sum(weights) == pytest.approx(1.0) and len(weights) == 7
        peaks.append(max(weights))
    assert peaks == sorted(peaks)
    assert peaks[0] < 0.2 and peaks[-1] > 0.99  # averaging → winner-take-all
    beta_weights(page, 300)  # β ≈ 0.16: a few letters share the weight
    page.screenshot(path=str(shots / "app-beta.png"))


def test_a_click_on_the_landscape_runs_downhill(page: Any, shots: Path) -> None:
    page.click("#tab-landscape")
    page.wait_for_selector("#landscape[data-points='0']")
    n, p, seed = 12, 3, 1
    pats = hf.random_patterns(p, n, seed=seed)
    memories = page.evaluate("land.data.memories")
    box = page.locator("#landscape").bounding_box()
    ends = []
    for m in memories:
        px, py = page.evaluate(f"toCanvas({0.8 * m['x']}, {0.8 * m['y']})")
        previous = page.eval_on_selector("#landscape", "c => c.dataset.endState || ''")
        page.mouse.click(box["x"] + px, box["y"] + py)
        page.wait_for_function(
            "([s]) => { const c = document.querySelector('#landscape'); "
            "return c.dataset.end && c.dataset.endState !== s && !land.busy; }",
            arg=[previous],
        )
        end = np.array(page.eval_on_selector("#landscape", "c => JSON.parse(c.dataset.endState)"))
        assert ref.is_fixed_point(pats, end[None])[0]  # it ended where nothing flips
        category = page.eval_on_selector("#landscape", "c => c.dataset.end")
        text = page.text_content("#ls-result")
        if category == "stored":
            k = int(np.flatnonzero((pats == end).all(axis=1))[0])
            assert text == f"memory ξ{k + 1}"
        else:
            assert text.startswith(("a spurious", "the reverse", "near"))
        ends.append(category)
        inked = page.evaluate(
            "([r, g, b]) => { const c = document.querySelector('#landscape');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let k = 0;"
            " for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g)"
            " + Math.abs(d[i + 2] - b) < 30) k++; return k; }",
            list(INK),
        )
        assert inked > 20  # the path and its end point are drawn
    assert "stored" in ends
    page.screenshot(path=str(shots / "app-landscape.png"))
