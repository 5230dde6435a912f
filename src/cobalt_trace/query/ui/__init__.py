"""The web UI: a single-page app of static ES modules, served from the package (no CDN)."""

from .assets import SPA_PATHS, UIAssets, ui_routes

__all__ = ["SPA_PATHS", "UIAssets", "ui_routes"]
