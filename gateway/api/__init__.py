"""HTTP routes: OpenAI's inference endpoints, the model list and health probes."""

from gateway.api.health import router as health_router
from gateway.api.inference import router as inference_router
from gateway.api.models import router as models_router

__all__ = ["health_router", "inference_router", "models_router"]
