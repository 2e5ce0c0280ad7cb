"""Token Status List examples (../shared/vectors/status-list): decode exactly, re-encode exactly.

The expected statuses are those the draft lists next to each example (draft-ietf-oauth-
status-list-14, "Test vectors for Status List encoding" and §4.1); every other entry of the
2^20-entry lists is VALID (0). The CBOR examples are not read: civicstack uses the JWT form.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from civicstack._crypto import parse_compact
from civicstack.status import StatusList
from tests.conftest import shared_path

SIZE = 2**20
_ONE_BIT = [0, 1993, 25460, 159495, 495669, 554353, 645645, 723232, 854545, 934534, 1000345]
_TWO_BIT = [1, 2, 1, 3, 1, 1, 2, 1, 1, 2, 3]
_FOUR_BIT = {
    0: 1, 1993: 2, 35460: 3, 459495: 4, 595669: 5, 754353: 6, 845645: 7, 923232: 8,
    924445: 9, 934534: 10, 1004534: 11, 1000345: 12, 1030203: 13, 1030204: 14, 1030205: 15,
}  # fmt: skip
# The index holding each value 0..255 in the 8-bit example, in value order.
_EIGHT_BIT = [
    233478, 52451, 576778, 513575, 468106, 292632, 214947, 182323, 884834, 66653, 62489, 196493,
    458517, 487925, 55649, 416992, 879796, 462297, 942059, 583408, 13628, 334829, 886286, 713557,
    582738, 326064, 451545, 705889, 214350, 194502, 796765, 202828, 752834, 721327, 554740,
    91122, 963483, 261779, 793844, 165255, 614839, 758403, 403258, 145867, 96100, 477937, 606890,
    167335, 488197, 211815, 797182, 582952, 950870, 765108, 341110, 776325, 745056, 439368,
    559893, 149741, 358903, 513405, 342679, 969429, 795775, 566121, 460566, 680070, 117310,
    480348, 67319, 661552, 841303, 561493, 138807, 442463, 659927, 445910, 1046963, 829700,
    962282, 299623, 555493, 292826, 517215, 551009, 898490, 837603, 759161, 459948, 290102,
    1034977, 190650, 98810, 229950, 320531, 335506, 885333, 133227, 806915, 800313, 981571,
    527253, 24077, 240232, 559572, 713399, 233941, 615514, 911768, 331680, 951527, 6805, 552366,
    374660, 223159, 625884, 417146, 320527, 784154, 338792, 1199, 679804, 1024680, 40845, 234603,
    761225, 644903, 502167, 121477, 505144, 165165, 179628, 1019195, 145149, 263738, 269256,
    996739, 346296, 555864, 887384, 444173, 421844, 653716, 836747, 783119, 918762, 946835,
    253764, 519895, 471224, 134272, 709016, 44112, 482585, 461829, 15080, 148883, 123467, 480125,
    141348, 65877, 692958, 148598, 499131, 584009, 1017987, 449287, 277478, 991262, 509602,
    991896, 853666, 399318, 197815, 203278, 903979, 743015, 888308, 862143, 979421, 113605,
    206397, 127113, 844358, 711569, 229153, 521470, 401793, 398896, 940810, 293983, 884749,
    384802, 584151, 970201, 523882, 158093, 929312, 205329, 106091, 30949, 195586, 495723,
    348779, 852312, 1018463, 1009481, 448260, 841042, 122967, 345269, 794764, 4520, 818773,
    556171, 954221, 598210, 887110, 1020623, 324632, 398244, 622241, 456551, 122648, 127837,
    657676, 119884, 105156, 999897, 330160, 119285, 168005, 389703, 143699, 142524, 493258,
    846778, 251420, 516351, 83344, 171931, 879178, 663475, 546865, 428362, 658891, 500560,
    557034, 830023, 274471, 629139, 958869, 663071, 152133, 19535,
]  # fmt: skip

LONG: dict[str, tuple[int, dict[int, int]]] = {
    "status_list_encoding1_long_json.md": (1, dict.fromkeys(_ONE_BIT, 1)),
    "status_list_encoding2_long_json.md": (2, dict(zip(_ONE_BIT, _TWO_BIT, strict=True))),
    "status_list_encoding4_json.md": (4, _FOUR_BIT),
    "status_list_encoding8_json.md": (8, {idx: value for value, idx in enumerate(_EIGHT_BIT)}),
}
SHORT = ["status_list_encoding_json.md", "status_list_encoding2_json.md"]


def _example(name: str) -> tuple[dict[str, Any], str]:
    text = shared_path("vectors", "status-list", "examples", name).read_text()
    body = text[text.index("{") : text.rindex("}") + 1]
    # The draft wraps long lst strings over indented lines; no JSON token needs the spaces.
    return json.loads("".join(line.strip() for line in body.splitlines())), text


@pytest.mark.parametrize("name", sorted(LONG))
def test_long_examples_decode_and_encode_exactly(name: str) -> None:
    """Each 2^20-entry list decodes to the draft's statuses, and re-encodes to the same lst."""
    obj, _ = _example(name)
    bits, statuses = LONG[name]
    decoded = StatusList.decode(obj)
    assert decoded.bits == bits
    assert len(decoded) == SIZE
    expected = StatusList(SIZE, bits)
    for idx, value in statuses.items():
        expected[idx] = value
        assert decoded[idx] == value
    assert decoded.to_bytes() == expected.to_bytes()  # every other entry is VALID
    assert expected.encode() == obj


@pytest.mark.parametrize("name", SHORT)
def test_short_examples_match_their_byte_arrays(name: str) -> None:
    """The §4.1 examples decode to the byte arrays printed above them, bit order included."""
    obj, text = _example(name)
    match = re.search(r"byte_array = \[([^\]]*)\]", text)
    assert match is not None
    printed = bytes(int(b, 16) for b in match.group(1).split(","))
    decoded = StatusList.decode(obj)
    assert decoded.to_bytes() == printed
    assert StatusList.from_bytes(printed, obj["bits"]).encode() == obj


def test_eight_bit_example_lists_every_value_once() -> None:
    """The 8-bit example's table names 256 distinct indices, one per byte value."""
    assert len(set(_EIGHT_BIT)) == len(_EIGHT_BIT) == 256


def test_one_bit_example_reads_least_significant_bit_first() -> None:
    """§4.1: 0xB9 0xA3 hold statuses 1,0,0,1,1,1,0,1 then 1,1,0,0,0,1,0,1."""
    obj, _ = _example("status_list_encoding_json.md")
    decoded = StatusList.decode(obj)
    assert [decoded[i] for i in range(16)] == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]


def test_two_bit_example_values() -> None:
    """§4.1's 2-bit example: [0xC9, 0x44, 0xF9] holds 1,2,0,3, 0,1,0,1, 1,2,3,3."""
    obj, _ = _example("status_list_encoding2_json.md")
    decoded = StatusList.decode(obj)
    assert [decoded[i] for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_status_list_token_example_decodes() -> None:
    """The example Status List Token has the header and claims the draft shows."""
    raw = shared_path("vectors", "status-list", "examples", "status_list_jwt_raw.md").read_text()
    token = "".join(raw.split())
    jws = parse_compact(token)
    claims = jws.payload_json()
    assert jws.header == {"alg": "ES256", "kid": "12", "typ": "statuslist+jwt"}
    assert claims["sub"] == "https://example.com/statuslists/1"
    assert (claims["iat"], claims["exp"], claims["ttl"]) == (1686920170, 2291720170, 43200)
    assert StatusList.decode(claims["status_list"]).to_bytes() == bytes([0xB9, 0xA3])
    shown = shared_path("vectors", "status-list", "examples", "status_list_jwt.md").read_text()
    payload = json.loads(shown[shown.index("}") + 1 :].lstrip().lstrip(".").strip())
    assert {k: v for k, v in claims.items() if k != "iss"} == payload
