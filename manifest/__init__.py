"""The Teams app package: the manifest template, icons and the package builder."""
