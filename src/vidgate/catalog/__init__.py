"""The model catalog: ids, tiers, modes, allowed values, prices and the backend serving each."""

from vidgate.catalog.models import MODES, ModelSpec
from vidgate.catalog.registry import CATALOG, DEFAULT_MODEL_BY_MODE, LOCAL_MODEL_ID, get_model

__all__ = ["CATALOG", "DEFAULT_MODEL_BY_MODE", "LOCAL_MODEL_ID", "MODES", "ModelSpec", "get_model"]
