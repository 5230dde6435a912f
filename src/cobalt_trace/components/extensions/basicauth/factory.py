from ....pipeline.component import Factory, Kind
from .config import BasicAuthConfig
from .extension import BasicAuth

FACTORY = Factory(
    type="basicauth",
    kind=Kind.EXTENSION,
    config_type=BasicAuthConfig,
    create=lambda settings, config, _next=None: BasicAuth(settings, config),
    description="HTTP Basic authentication (htpasswd) for receivers and exporters",
)
