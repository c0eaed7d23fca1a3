"""统一社会信用代码 (GB 32100-2015) and the embedded organisation code (GB 11714)."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.domain.uscc import (
    ALPHABET,
    UsccError,
    check_character,
    make_uscc,
    normalise_uscc,
    org_code_check,
    validate_uscc,
)

REAL_CODES = ("91330100716105852F", "9144030071526726XG", "91110000802100433B")


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid_without_warnings(code):
    assert validate_uscc(code) == []


@pytest.mark.parametrize("code", REAL_CODES)
def test_check_character_is_the_18th_character(code):
    assert check_character(code[:17]) == code[17]


def test_check_character_hand_computed():
    # Σ value×weight of 91330100716105852 = 884; 884 mod 31 = 16; 31 − 16 = 15 → "F".
    assert check_character("91330100716105852") == "F"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("71610585", "2"),  # Σ = 174, 174 mod 11 = 9, 11 − 9 = 2
        ("71526726", "X"),  # Σ = 199, 199 mod 11 = 1, 11 − 1 = 10 → X
        ("80210043", "3"),  # Σ = 74, 74 mod 11 = 8, 11 − 8 = 3
        ("00000000", "0"),  # Σ = 0, 11 − 0 = 11 → 0
        ("D2143569", "X"),  # GB 11714 letters: D = 13; Σ = 199 → X
    ],
)
def test_org_code_check_digit(body, expected):
    assert org_code_check(body) == expected


def test_input_is_normalised_before_checking():
    assert normalise_uscc(" 9133 0100 7161 0585 2f\n") == "91330100716105852F"
    assert validate_uscc(" 91330100716105852f ") == []
    assert validate_uscc("９１３３０１００７１６１０５８５２Ｆ") == []  # full-width


@pytest.mark.parametrize("code", ["", "9133010071610585", "91330100716105852FF"])
def test_wrong_length_is_rejected(code):
    with pytest.raises(UsccError) as caught:
        validate_uscc(code)
    error = caught.value
    assert (error.field, error.rule, error.position) == ("uscc", "length", None)


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z", "#", "*"])  # a dash is a separator: removed
def test_character_outside_the_alphabet_is_rejected_with_its_position(letter):
    code = "9133" + letter + "100716105852F"
    with pytest.raises(UsccError) as caught:
        validate_uscc(code)
    assert (caught.value.rule, caught.value.position) == ("alphabet", 5)


def test_wrong_check_character_is_rejected():
    with pytest.raises(UsccError) as caught:
        validate_uscc("91330100716105852G")
    assert (caught.value.rule, caught.value.position) == ("check", 18)
    assert isinstance(caught.value, ValueError)


def test_embedded_org_code_mismatch_is_only_a_warning():
    first16 = "9133010071610585"  # organisation check should be 2; put 7
    first17 = first16 + "7"
    assert validate_uscc(first17 + check_character(first17)) == ["org_code"]


def test_make_uscc_builds_a_yiwu_enterprise_code():
    code = make_uscc(random.Random(7))
    assert len(code) == 18
    assert code.startswith("91330782")
    assert validate_uscc(code) == []


def test_make_uscc_rejects_a_bad_division():
    with pytest.raises(UsccError) as caught:
        make_uscc(random.Random(1), division="33078")
    assert caught.value.field == "division"


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["330782", "330100", "110000"]))
def test_made_codes_are_always_valid(seed, division):
    code = make_uscc(random.Random(seed), division=division)
    assert code[2:8] == division
    assert validate_uscc(code) == []


valid_codes = st.one_of(
    st.sampled_from(REAL_CODES),
    st.integers(min_value=0, max_value=2**32).map(lambda s: make_uscc(random.Random(s))),
)


@given(valid_codes, st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_any_single_substitution_is_rejected(code, index, replacement):
    # The weights are non-zero mod the prime 31, so one changed character always changes Σ.
    if code[index] == replacement:
        return
    mutated = code[:index] + replacement + code[index + 1 :]
    with pytest.raises(UsccError) as caught:
        validate_uscc(mutated)
    assert caught.value.rule == "check"


@given(valid_codes, st.integers(min_value=0, max_value=15))
def test_any_adjacent_transposition_in_the_first_17_is_rejected(code, index):
    # Neighbouring weights differ mod 31, so swapping two different characters changes Σ.
    a, b = code[index], code[index + 1]
    if a == b:
        return
    mutated = code[:index] + b + a + code[index + 2 :]
    with pytest.raises(UsccError):
        validate_uscc(mutated)


@given(valid_codes, st.integers(min_value=0, max_value=17), st.characters(codec="ascii"))
def test_foreign_characters_are_rejected_by_alphabet_or_check(code, index, ch):
    mutated = code[:index] + ch + code[index + 1 :]
    if normalise_uscc(mutated) == code:
        return  # lower-case of the same letter
    with pytest.raises(UsccError) as caught:
        validate_uscc(mutated)
    assert caught.value.rule in {"length", "alphabet", "check", "degenerate"}


# --- normalised once, degenerate codes refused (issue 15 item 10) -----------------------


@pytest.mark.parametrize("typed", [
    "9133-0100-7161-0585-2F",  # dashes between groups
    "9133 0100 7161 0585 2f",
    "９１３３－０１００－７１６１－０５８５－２ｆ",  # full-width digits, dash and letter
    "9133\u20140100\u2013716105852F",  # em and en dashes
])
def test_spaces_dashes_width_and_case_normalise_to_one_form(typed):
    assert normalise_uscc(typed) == "91330100716105852F"
    assert validate_uscc(typed) == []


@pytest.mark.parametrize("code", [
    "000000000000000000",  # the check character of 17 zeros is 0: passes GB 32100 alone
    "91000000" + "MA2A7K2C" + "X",  # division 000000 (then the check character fails anyway)
    "913307820000000000",  # organisation code 000000000
])
def test_degenerate_codes_are_refused(code):
    code = code[:17] + check_character(code[:17])  # a correct check character: still refused
    with pytest.raises(UsccError) as caught:
        validate_uscc(code)
    assert caught.value.rule == "degenerate"
