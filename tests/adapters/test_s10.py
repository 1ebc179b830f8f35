from __future__ import annotations

from pathlib import Path

import pytest

from adapters.upu import s10

SAMPLES = [line.split() for line in (Path(__file__).resolve().parent.parent / "fixtures/s10.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
GOOD = [ident for verdict, ident in SAMPLES if verdict == "valid"]
BAD = [ident for verdict, ident in SAMPLES if verdict == "invalid"]


def test_sample_file_has_both_kinds() -> None:
    assert len(GOOD) >= 10 and len(BAD) >= 5


@pytest.mark.parametrize("ident", GOOD)
def test_known_good(ident: str) -> None:
    parsed = s10.parse(ident)
    assert str(parsed) == ident
    assert s10.validate(ident) is None


@pytest.mark.parametrize("ident", BAD)
def test_known_bad(ident: str) -> None:
    with pytest.raises(s10.S10Error):
        s10.parse(ident)
    assert s10.validate(ident)


def test_check_digit_worked_example() -> None:
    # FORMATS.md: serial 12345678 → s = 204 → 204 mod 11 = 6 → c = 5.
    assert s10.check_digit("12345678") == 5


@pytest.mark.parametrize(("serial", "expected"), [("00000000", 5), ("22347907", 2), ("80657672", 5)])
def test_check_digit_special_cases(serial: str, expected: int) -> None:
    # 00000000: s = 0 → c = 11 → 5.
    assert s10.check_digit(serial) == expected


def test_check_digit_ten_becomes_zero() -> None:
    serial = next(f"{n:08d}" for n in range(10**6) if
                  sum(int(d) * w for d, w in zip(f"{n:08d}", (8, 6, 4, 2, 3, 5, 9, 7))) % 11 == 1)
    assert s10.check_digit(serial) == 0


def test_reasons_name_the_problem() -> None:
    assert "check digit" in s10.validate("RB123456786US")
    assert "country" in s10.validate("RB123456785XX")
    assert "not an S10" in s10.validate("RR12345678DE")


@pytest.mark.parametrize("indicator", ["BA", "DZ", "NA", "PQ", "ZZ", "AV", "AZ", "GA", "GD"])
def test_domestic_only_ranges_refused_for_international_items(indicator: str) -> None:
    ident = f"{indicator}123456785DE"
    with pytest.raises(s10.S10Error, match="domestic"):
        s10.parse(ident)
    assert str(s10.parse(ident, international=False)) == ident


@pytest.mark.parametrize("indicator", ["EA", "LX", "MA", "RR", "UA", "VV", "CP", "HA", "QA", "QM"])
def test_international_service_indicators(indicator: str) -> None:
    assert s10.is_valid(f"{indicator}123456785DE")


@pytest.mark.parametrize("indicator", ["QN", "QZ", "AA", "GB", "XX", "FA"])
def test_unknown_service_indicators(indicator: str) -> None:
    assert "service indicator" in s10.validate(f"{indicator}123456785DE")


def test_normalise_printed_forms() -> None:
    assert s10.normalise(" rr 123 456 785 de ") == "RR123456785DE"
    assert s10.normalise("RR-123-456-785-DE") == "RR123456785DE"
    reason = s10.validate("rr 123456785 de")
    assert reason and "RR123456785DE" in reason


def test_non_ascii_digits_refused() -> None:
    assert not s10.is_valid("RR١٢٣٤٥٦٧٨٥DE")


def test_receptacle_id_parsed() -> None:
    r = s10.parse_receptacle("AUSYDBMYKULAAEM70095002000070")
    assert (r.origin_office, r.destination_office, r.mail_category, r.mail_subclass) == ("AUSYDB", "MYKULA", "A", "EM")
    assert (r.year_digit, r.dispatch_number, r.receptacle_serial) == (7, "0095", "002")
    assert (r.highest_receptacle, r.registered_or_insured, r.weight_kg) == (False, "0", "7.0")
    assert (r.origin_country, r.destination_country) == ("AU", "MY")
    last = s10.parse_receptacle("INBOMCMYKULAACN70147007100161")
    assert last.highest_receptacle and last.weight_kg == "16.1"


@pytest.mark.parametrize(("ident", "reason"), [
    ("AUSYDBMYKULAAEM7009500200007", "29 characters"),
    ("XXSYDBMYKULAAEM70095002000070", "country"),
    ("AUSYDBMYKULAEEM70095002000070", "mail category"),
    ("AUSYDBMYKULAAEM70095002500070", "highest-receptacle"),
    ("AUSYDBMYKULAAEM7009500205007X", "not an S9"),
])
def test_receptacle_id_refused(ident: str, reason: str) -> None:
    assert reason in (s10.validate_receptacle(ident) or "")


def test_all_sample_receptacles_valid(fixtures: Path) -> None:
    import re
    for f in (fixtures / "upu-ips").glob("*.xml"):
        for ident in re.findall(r"<RecptclId>([^<]+)</RecptclId>", f.read_text()):
            assert s10.validate_receptacle(ident) is None, ident


@pytest.mark.parametrize("text", [
    "RR１２３４５６７８５DE",                 # fullwidth digits: int() reads them, S10 does not allow them
    "RR\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668" "5DE",  # Arabic-Indic digits
    "RR123456785DE\n",                  # "$" would accept a trailing newline
])
def test_only_ascii_digits_and_nothing_after_the_id(text: str) -> None:
    assert not s10.is_valid(text)
