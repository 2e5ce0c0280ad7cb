"""The ``civic`` command: one module per command group, no domain logic."""
