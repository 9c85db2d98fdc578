"""Installed, this directory is the package `bot._playbooks`: the playbooks ship in the wheel and
are read with importlib.resources. The playbooks themselves are the YAML files beside it."""
