"""``hopfield app``: the interactive page in the browser (``pip install 'hopfield[app]'``).

Three panels on the engine: draw a letter and watch the network retrieve it
(with its energy, overlaps and the memory reached), the modern network's β
slider, and the energy landscape of a small network. The page is plain HTML,
CSS and JavaScript shipped in ``static/`` (no build step, no CDN, works
offline); :mod:`hopfield.app.server` serves it and the JSON endpoints of
:mod:`hopfield.app.api`, which check every input (:mod:`hopfield.app.payload`).

The app is the top layer: it uses the library and the lab, and nothing
imports it except the ``hopfield app`` command, when it is run.
"""

from __future__ import annotations

from .server import create_app, running, serve

__all__ = ["create_app", "running", "serve"]
