"""The model catalog: ids, tiers, modes, allowed values, prices and the backend serving each.
The models themselves are declared by the backend plugins that serve them."""

from vidgate.catalog.models import MODES, ModelSpec
from vidgate.catalog.registry import DEFAULT_MODEL_BY_MODE, LOCAL_MODEL_ID, Catalog

__all__ = ["DEFAULT_MODEL_BY_MODE", "LOCAL_MODEL_ID", "MODES", "Catalog", "ModelSpec"]
