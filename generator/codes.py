"""Units and codes of the simulated event tables, shared by every stage of the simulation."""

from __future__ import annotations

import numpy as np

DAY = 86_400  # seconds: event times are seconds from the start of day 0
GUEST_ORDER_SHARE = 0.03
BACKGROUND_NEVER_BUY = 0.10
BACKGROUND_REFERRED = 0.06
STATUS_COMPLETED, STATUS_CANCELLED, STATUS_RETURNED = 0, 1, 2
NONE = -1  # "empty" in integer columns

Arrays = dict[str, np.ndarray]
