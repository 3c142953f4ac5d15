"""What every route needs from the running app: its services and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.auth import Principal
from gateway.services import Services

__all__ = ["Caller", "ServicesDep", "authenticate", "get_services"]


def get_services(request: Request) -> Services:
    """The services the lifespan built for this app."""
    services: Services = request.app.state.services
    return services


def authenticate(request: Request) -> Principal:
    """The caller behind the request's bearer key (raises 401 when there is none)."""
    return get_services(request).keys.authenticate(request.headers.get("authorization"))


ServicesDep = Annotated[Services, Depends(get_services)]
Caller = Annotated[Principal, Depends(authenticate)]
