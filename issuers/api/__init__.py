"""HTTP routes of the issuer service (thin: the logic lives in the issuers modules)."""

from fastapi import APIRouter

from issuers.api import citizen, citizen_app, family, me, printing, public, staff

#: The citizen hot path, included by the app ahead of everything else: FastAPI matches routes
#: in order, and walking the others first costs a noticeable share of a cached answer.
hot_router = me.router
api_router = APIRouter()
api_router.include_router(public.router)
api_router.include_router(citizen.router)
api_router.include_router(family.router)
api_router.include_router(citizen_app.router)
api_router.include_router(printing.router)
api_router.include_router(staff.router)

__all__ = ["api_router", "hot_router"]
