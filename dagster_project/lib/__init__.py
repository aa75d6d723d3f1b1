"""Plain utilities that belong to no stage: phone numbers, YAML files, check metadata, locks.

Nothing here imports a domain package; every domain may import from here.
"""
