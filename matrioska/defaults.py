"""Names the configuration, the model loaders and the local backend all need (the floor below
them: importing this module imports nothing of Matrioska)."""

from __future__ import annotations

__all__ = ["ROLES", "DEFAULT_MODEL_ID", "VERSION"]

VERSION = "0.1.0"
"""The package's own version (`matrioska.__version__`, and the CLI's when run from a checkout)."""

ROLES = ("architect", "executor", "assembler")
"""The roles a run can give different models: the plan, the modules, the integration notes."""

DEFAULT_MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.3"
"""The model a run uses when none is given: Mistral-7B-Instruct-v0.3 in 4-bit (nf4, double quant)."""
