"""Phone parsing and masking: pure functions, known inputs."""

import pytest

from dagster_project.lib.phones import mask_phone, parse_many, parse_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164", "number_region"),
    [
        ("(415) 234-5678", "US", "+14152345678", "US"),
        ("1-415-234-5678", "US", "+14152345678", "US"),
        ("0171 1234567", "DE", "+491711234567", "DE"),
        ("0049 171 1234567", "DE", "+491711234567", "DE"),
        ("+44 7912 345678", "US", "+447912345678", "GB"),  # explicit country wins
        ("0532 123 45 67", "TR", "+905321234567", "TR"),
        ("+90 532 123 45 67", None, "+905321234567", "TR"),
    ],
)
def test_formats_people_type_normalize_to_e164(raw, region, e164, number_region):
    parsed = parse_phone(raw, region)
    assert (parsed.e164, parsed.is_valid, parsed.region) == (e164, True, number_region)


def test_mobile_and_landline_are_told_apart():
    assert parse_phone("0171 1234567", "DE").number_type == "mobile"
    assert parse_phone("030 1234567", "DE").number_type == "fixed_line"


@pytest.mark.parametrize("raw", ["", "   ", "n/a", "000000", "12345", "123456789012345678"])
def test_junk_is_never_valid(raw):
    parsed = parse_phone(raw, "GB")
    assert not parsed.is_valid and parsed.region is None and parsed.error


def test_national_number_without_region_is_unparseable():
    assert parse_phone("0171 1234567", None).e164 is None


def test_parse_many_keeps_order():
    pairs = [("0171 1234567", "DE"), ("junk", "DE"), ("(415) 234-5678", "US")]
    assert [p.e164 for p in parse_many(pairs)] == ["+491711234567", None, "+14152345678"]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+491711234567", "+49••••••••67"),
        ("(415) 234-5678", "••••••••78"),
        ("1234", "••••"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_hides_all_but_country_and_last_two(value, masked):
    assert mask_phone(value) == masked


def test_reserved_drama_numbers_are_not_valid():
    # Ofcom keeps 07700 900000-900999 for fiction; such a number is never sendable.
    assert not parse_phone("07700 900123", "GB").is_valid


def test_parse_many_on_a_process_pool_matches_serial_in_order():
    from dagster_project.lib.phones import PARALLEL_THRESHOLD, parser_pool

    base = [
        ("0171 1234567", "DE"),
        ("n/a", "GB"),
        ("(415) 234-5678", "US"),
        ("0532 123 45 67", "TR"),
    ]
    pairs = [
        (f"{raw}{'' if i % 7 else ' '}", region)
        for i in range(PARALLEL_THRESHOLD + 8)
        for raw, region in [base[i % 4]]
    ]
    with parser_pool(2) as pool:
        pooled = parse_many(pairs, pool)
    assert pooled == parse_many(pairs)
    assert [p.e164 for p in pooled[:4]] == ["+491711234567", None, "+14152345678", "+905321234567"]
