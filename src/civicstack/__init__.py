"""civicstack: government as a platform.

Citizens hold their identity in a wallet on their own device; accredited authorities sign
SD-JWT VC attestations into it; anyone who needs proof verifies it against a trust chain,
without a central database. Registers, consent and an access log, tell-us-once notifications
and single sign-on are built around that eID.
"""

__version__ = "0.1.0"
