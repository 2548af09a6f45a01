"""``python -m hopfield`` runs the command line."""

from .lab.cli import main

raise SystemExit(main())
