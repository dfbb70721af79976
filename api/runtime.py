"""What the API holds for the life of the process: settings, services, token signer, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.metrics import HttpMetrics, http_metrics
from api.ratelimit import AuthRateLimits
from api.tokens import AccessTokens
from core.bootstrap import Services
from core.config import Settings


@dataclass(slots=True)
class Runtime:
    settings: Settings
    tokens: AccessTokens
    limits: AuthRateLimits | None = None
    services: Services | None = None
    metrics: HttpMetrics | None = None
    owns_services: bool = field(default=False)

    def attach(self, services: Services, *, owned: bool) -> None:
        self.services = services
        self.metrics = http_metrics(services.registry)
        self.limits = AuthRateLimits(self.settings, services.rate_counters)
        self.owns_services = owned
