"""Built-in stages; every module here is imported by the registry and registers its stages."""
