"""The fault-injection script keeps working: a few of its damaged-record cases, end to end."""

from __future__ import annotations

import pytest

from tests.faults import fault_injection

pytestmark = pytest.mark.e2e


def test_a_few_damaged_record_cases_find_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code = fault_injection.main(["--cases", "4", "--seed", "7", "--family", "damaged record"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (
        "cases 4: 0 stuck Executing, 0 lost stops, 0 tracebacks, 0 faked results, "
        "0 store objects changed"
    )
    assert code == 0
