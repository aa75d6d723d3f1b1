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

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dagster_project.lib.yaml_files import read_mapping, validate

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


def load_prices(path: str | Path) -> Prices:
    """Read and validate a price table; errors say which file and which field."""
    path = Path(path)
    raw = read_mapping(path, PricingError, "expected a mapping with 'default' and 'countries'")
    if isinstance(raw.get("countries"), dict):
        raw["countries"] = {_key(k): v for k, v in raw["countries"].items()}
    return validate(Prices, raw, path, PricingError)


def _key(key: object) -> object:
    # YAML 1.1 reads the bare key NO (Norway) as False; map it back.
    if key is False:
        return "NO"
    return key


def estimate_cost(size: SmsSize, country: str | None, prices: Prices) -> Decimal:
    """Segments times the destination's price per segment (unknown country -> default)."""
    return size.segments * prices.per_segment(country)
