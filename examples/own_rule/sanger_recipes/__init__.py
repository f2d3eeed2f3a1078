"""The recipes this package ships: each YAML file here is `experiment=sanger/<file>` once the
package is installed (the `plastic.experiments` entry point in pyproject.toml)."""
