"""guardgraph: safety-verified agent orchestration.

Import the subpackages for the API: ``guardgraph.specs`` (the spec language),
``guardgraph.guardrails`` (Z3 compilation, static checks, the runtime guard),
``guardgraph.audit`` (the provable audit log). This module stays light: importing it
loads neither torch nor z3.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
