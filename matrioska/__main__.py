"""`python -m matrioska` is the `matrioska` command."""

from matrioska.cli import main

raise SystemExit(main())
