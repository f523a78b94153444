"""`python -m matrioska` is the `matrioska` command."""

from .cli import main

raise SystemExit(main())
