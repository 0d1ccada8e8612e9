"""Bridge to the Aqua compiler (node + @fluencelabs/aqua-api): .aqua -> AIR and function signatures.

A leaf subpackage: imports only errors and util. Calling a compiled function on a peer lives in
`fluence_dao.peer` (the client is a peer).
"""

from fluence_dao.aqua._call import FunctionCall, parse_function_call
from fluence_dao.aqua._compiler import (
    AquaFunction,
    CompiledAqua,
    compile_aqua,
    compile_error,
    compile_many,
    default_imports,
    normalize_scala_fields,
)

__all__ = [
    "AquaFunction",
    "CompiledAqua",
    "FunctionCall",
    "compile_aqua",
    "compile_error",
    "compile_many",
    "default_imports",
    "normalize_scala_fields",
    "parse_function_call",
]
