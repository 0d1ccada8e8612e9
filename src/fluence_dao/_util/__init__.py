"""Private helpers shared across subpackages. Nothing here imports heavy libraries."""
