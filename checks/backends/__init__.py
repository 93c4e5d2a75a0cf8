"""Live backends behind the ports: the only modules that import the client libraries."""
