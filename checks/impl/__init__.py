"""The check implementations, one module per area; importing a module registers its checks."""
