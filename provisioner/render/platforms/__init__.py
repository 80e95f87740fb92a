"""One module per platform; each registers itself with @register_platform when imported."""
