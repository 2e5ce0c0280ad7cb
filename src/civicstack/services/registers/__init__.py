"""The registers service: who may write, the writes, and the registers a platform starts with.

- :mod:`.service` — :class:`Registers` (the use cases) and the store it needs,
  :class:`RegisterStorage`;
- :mod:`.seed` — :func:`seed_registers`: GOV.UK's archive and the synthetic registers.
"""

from civicstack.services.registers.seed import SEED, SeedReport, default_archive, seed_registers
from civicstack.services.registers.service import (
    TOKEN_PREFIX,
    LogState,
    Registers,
    RegisterStorage,
)

__all__ = [
    "SEED",
    "TOKEN_PREFIX",
    "LogState",
    "RegisterStorage",
    "Registers",
    "SeedReport",
    "default_archive",
    "seed_registers",
]
