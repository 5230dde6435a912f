from ....pipeline.component import Factory, Kind
from .config import BearerTokenAuthConfig
from .extension import BearerTokenAuth

FACTORY = Factory(
    type="bearertokenauth",
    kind=Kind.EXTENSION,
    config_type=BearerTokenAuthConfig,
    create=lambda settings, config, _next=None: BearerTokenAuth(settings, config),
    description="bearer token authentication for receivers and exporters",
)
