"""What the product knows of the field: the tree, causes, error signatures and remediations, and pure inference."""
