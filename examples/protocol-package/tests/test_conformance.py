"""The protocol passes distbench's conformance scenarios for its kind.

A fixed primary cannot serve while it is down or cut off, so liveness is expected only once
every fault has healed (``liveness="healed"``); safety is checked throughout."""

import pytest

from harness.testing import conformance


@pytest.mark.parametrize("scenario", conformance.scenarios("consensus"))
@pytest.mark.parametrize("acks", ["majority", "all"])
def test_primary_backup_conforms(scenario, acks):
    conformance.check("primary-backup", scenario, f"protocols.primary-backup.acks={acks}",
                      liveness="healed")
