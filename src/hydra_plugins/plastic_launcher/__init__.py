"""plastic's Hydra launcher (`hydra/launcher=pool`): see pool_launcher.py."""
