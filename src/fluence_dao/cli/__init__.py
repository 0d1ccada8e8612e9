"""The `fluence-dao` command line. Commands parse, call one library function, and render.

`CliState` is one invocation's configuration (Settings and the FlowContext, built once on first use); the root
callback of `cli.main` creates it.
"""

from fluence_dao.cli._state import CliState, Flags

__all__ = ["CliState", "Flags"]
