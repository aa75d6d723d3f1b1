"""Price table loading and message cost."""

from decimal import Decimal
from pathlib import Path

import pytest

from dagster_project.activation.encoding import SmsSize, measure
from dagster_project.activation.pricing import Prices, PricingError, estimate_cost, load_prices

SHIPPED = Path(__file__).resolve().parents[3] / "campaigns" / "pricing" / "sms.yml"


def write(tmp_path, text):
    path = tmp_path / "sms.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_table_loads_with_the_countries_we_send_to():
    prices = load_prices(SHIPPED)
    assert prices.currency == "USD"
    assert {"US", "GB", "DE", "TR"} <= set(prices.countries)
    assert all(Decimal("0.001") < p < Decimal("0.5") for p in prices.countries.values())


def test_two_segment_message_to_turkey():
    prices = Prices(default=Decimal("0.06"), countries={"TR": Decimal("0.0290")})
    size = measure("a" * 161)
    assert size == SmsSize("GSM-7", 161, 2)
    assert estimate_cost(size, "TR", prices) == Decimal("0.0580")
    assert estimate_cost(size, "tr", prices) == Decimal("0.0580")
    # One ş turns 100 letters into a two-part UCS-2 message as well.
    assert estimate_cost(measure("ş" + "a" * 99), "TR", prices) == Decimal("0.0580")


def test_unknown_or_missing_country_uses_default():
    prices = Prices(default=Decimal("0.06"), countries={"TR": Decimal("0.0290")})
    one = SmsSize("GSM-7", 20, 1)
    assert estimate_cost(one, "BR", prices) == Decimal("0.06")
    assert estimate_cost(one, None, prices) == Decimal("0.06")
    assert estimate_cost(SmsSize("GSM-7", 0, 0), "TR", prices) == 0


def test_prices_are_exact_decimals(tmp_path):
    prices = load_prices(write(tmp_path, "default: 0.1\ncountries:\n  US: '0.0083'\n  NO: 0.07\n"))
    assert prices.default == Decimal("0.1")
    assert prices.countries == {"US": Decimal("0.0083"), "NO": Decimal("0.07")}
    total = sum(estimate_cost(SmsSize("GSM-7", 10, 1), "US", prices) for _ in range(100_000))
    assert total == Decimal("830.0000")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("countries:\n  US: 0.01\n", "default: Field required"),
        ("default: -0.01\n", "default: Input should be greater than or equal to 0"),
        ("default: 0.05\ncountries:\n  USA: 0.01\n", "countries.USA"),
        ("default: 0.05\ncountries:\n  us: 0.01\n", "countries.us"),
        ("default: 0.05\ncountries:\n  DE: cheap\n", "countries.DE"),
        ("default: 0.05\nprice: 1\n", "price: Extra inputs are not permitted"),
        ("default: 0.05\ncurrency: dollars\n", "currency"),
    ],
)
def test_validation_errors_name_file_and_field(tmp_path, text, field):
    path = write(tmp_path, text)
    with pytest.raises(PricingError) as caught:
        load_prices(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert field in message


def test_duplicate_country_refused(tmp_path):
    path = write(tmp_path, "default: 0.05\ncountries:\n  DE: 0.08\n  DE: 0.09\n")
    with pytest.raises(PricingError, match="duplicate key 'DE'"):
        load_prices(path)


def test_unreadable_or_malformed_file(tmp_path):
    with pytest.raises(PricingError, match="cannot read"):
        load_prices(tmp_path / "missing.yml")
    with pytest.raises(PricingError, match="not valid YAML"):
        load_prices(write(tmp_path, "default: [0.05\n"))
    with pytest.raises(PricingError, match="expected a mapping"):
        load_prices(write(tmp_path, "- 0.05\n"))
