"""Support shared by every layer: paths, ports, processes, varints, wasm sections, JSON types.

Nothing here imports heavy libraries or any other fluence_dao package but `errors`.
"""
