"""plastic: a command-line experiment runner for local, biologically plausible learning rules."""

__version__ = "0.2.0"
