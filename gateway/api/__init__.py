"""HTTP routes: OpenAI's inference endpoints, the model list, health probes, metrics, audit page."""

from gateway.api.admin import router as admin_router
from gateway.api.health import router as health_router
from gateway.api.inference import router as inference_router
from gateway.api.metrics import router as metrics_router
from gateway.api.models import router as models_router
from gateway.api.moderations import router as moderations_router

__all__ = [
    "admin_router",
    "health_router",
    "inference_router",
    "metrics_router",
    "models_router",
    "moderations_router",
]
