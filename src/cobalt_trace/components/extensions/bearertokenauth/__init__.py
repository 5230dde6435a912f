"""The `bearertokenauth` extension: `Authorization: Bearer <token>` checked on receivers, added by exporters."""
