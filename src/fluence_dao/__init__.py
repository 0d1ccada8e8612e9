"""fluence-dao: autonomous, DAO-governed services on the Fluence compute model.

This module imports nothing heavy: `fluence-dao --help` must stay fast, so web3, wasmtime and
libp2p are imported only inside the subpackages and commands that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
