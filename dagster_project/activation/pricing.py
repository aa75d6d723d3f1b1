"""SMS prices per destination country and the cost of one message.

Owns the price table format (``campaigns/pricing/sms.yml``) and the arithmetic:
a message costs its segment count times the destination's price per segment,
with a ``default`` price for any country not listed. Amounts are ``Decimal``
so budget caps summed over 100,000 messages do not drift. Pure: no Dagster, no
DuckDB.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .encoding import SmsSize

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class PricingError(ValueError):
    """A price table that cannot be used; the message names the file and the field."""


class Prices(BaseModel):
    """Price per segment by ISO 3166-1 alpha-2 country, and the price for any other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    default: Price
    countries: dict[CountryCode, Price] = Field(default_factory=dict)

    def per_segment(self, country: str | None) -> Decimal:
        """The price of one segment to ``country`` (case-insensitive; unknown -> default)."""
        if country:
            return self.countries.get(country.strip().upper(), self.default)
        return self.default


class _UniqueKeyLoader(yaml.SafeLoader):
    """A loader that refuses a key given twice (YAML would silently keep the last)."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def load_prices(path: str | Path) -> Prices:
    """Read and validate a price table; errors say which file and which field."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise PricingError(f"{path}: cannot read price table ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise PricingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PricingError(f"{path}: expected a mapping with 'default' and 'countries'")
    if isinstance(raw.get("countries"), dict):
        raw["countries"] = {_key(k): v for k, v in raw["countries"].items()}
    try:
        return Prices.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise PricingError(f"{path}: {problems}") from exc


def _key(key: object) -> object:
    # YAML 1.1 reads the bare key NO (Norway) as False; map it back.
    if key is False:
        return "NO"
    return key


def estimate_cost(size: SmsSize, country: str | None, prices: Prices) -> Decimal:
    """Segments times the destination's price per segment (unknown country -> default)."""
    return size.segments * prices.per_segment(country)
