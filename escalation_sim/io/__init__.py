"""Reading and writing files, nothing else: TOML with clean errors, atomic writes, provenance, the manifest.

The bottom layer above the errors: any package may read or write files through it.
"""
