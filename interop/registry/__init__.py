"""The trust registry: issuers, keys, signed and versioned trust lists (standard §7)."""
