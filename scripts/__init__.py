"""Set-up and deployment helpers, run from the repository root (not part of the installed package)."""
