"""The lab: what is built on the library to study associative memories.

The classic experiments (:mod:`~hopfield.lab.experiments`) and their theory
(:mod:`~hopfield.lab.theory`), small data sets (:mod:`~hopfield.lab.datasets`,
:mod:`~hopfield.lab.letters`, :mod:`~hopfield.lab.images`), figures
(:mod:`~hopfield.lab.plot`, needs matplotlib), the speed comparison
(:mod:`~hopfield.lab.bench`) and the ``hopfield`` command line
(:mod:`~hopfield.lab.cli`, :mod:`~hopfield.lab.commands`).

The lab imports the library (the models, spins, results and the reference);
the library never imports the lab. The public names stay where they were:
``hopfield.experiments``, ``hopfield.theory``, ``hopfield.datasets``,
``hopfield.images``, ``hopfield.plot`` and ``hopfield.cli`` are these modules.
"""
