"""The README cannot drift from the code: price table, settings, models."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from tests.conftest import installed_catalog
from vidgate.backends.fal import FalSettings
from vidgate.backends.gpu.config import GpuSettings
from vidgate.catalog.models import TIER_CREDITS_PER_SECOND
from vidgate.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_model_is_in_the_price_table_with_its_price() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| [^|]+ \| (\w+) \| (\d+) \| 1–(\d+) s \|", README, re.M)
    documented = {model: (tier, int(price), int(longest)) for model, tier, price, longest in rows}
    actual = {m.id: (m.tier, m.credits_per_second, int(m.max_duration)) for m in installed_catalog()}
    assert documented == actual


def test_tier_prices_are_documented() -> None:
    basic = TIER_CREDITS_PER_SECOND["basic"]
    for tier, price in TIER_CREDITS_PER_SECOND.items():
        assert f"| {tier} | {price} | {price / basic} |" in README


def test_every_setting_is_documented() -> None:
    owners: list[type[BaseSettings]] = [Settings, FalSettings, GpuSettings]  # the server's, and each backend's
    for owner in owners:
        prefix = owner.model_config.get("env_prefix", "")
        for name, field in owner.model_fields.items():
            aliases = getattr(field.validation_alias, "choices", None)
            env = aliases[0] if aliases else f"{prefix}{name}".upper()
            assert f"`{env}`" in README, f"{env} is not in the README's configuration table"
