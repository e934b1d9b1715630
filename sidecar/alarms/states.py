"""ISA-18.2 / IEC 62682 alarm states and their PROTOCOL.md ``state``.

```
              condition                    ack
   normal ─────────────────▶ unack_active ─────▶ ack_active
     ▲                        │      ▲               │
     │ ack                    │ RTN  │ condition     │ RTN (condition gone)
     │                        ▼      │ again         ▼
     └──────────────────── unack_rtn ┘             normal
```

PROTOCOL.md's ``state`` says what a v1 client needs to draw: ``active`` (unack_active),
``acknowledged`` (ack_active) and ``cleared`` (unack_rtn and normal: the condition is gone).
The additive ``isa_state`` says which of the four it is; an ``unack_rtn`` alert stays in the
snapshot until someone acknowledges it.
"""
from __future__ import annotations

from shared_schemas import protocol

NORMAL = protocol.ISA_NORMAL
UNACK_ACTIVE = protocol.ISA_UNACK_ACTIVE
ACK_ACTIVE = protocol.ISA_ACK_ACTIVE
UNACK_RTN = protocol.ISA_UNACK_RTN
ISA_STATES = protocol.ISA_STATES

WIRE_STATE = {UNACK_ACTIVE: protocol.ALERT_ACTIVE, ACK_ACTIVE: protocol.ALERT_ACKNOWLEDGED,
              UNACK_RTN: protocol.ALERT_CLEARED, NORMAL: protocol.ALERT_CLEARED}

# What an alert event reports (the additive ``change`` field; notifications route on it).
RAISED = "raised"              # normal -> unack_active (a new alert_id)
REACTIVATED = "reactivated"    # unack_rtn -> unack_active (same alert_id)
SEVERITY_UP = "severity_up"    # the condition got worse (warning -> critical)
ESCALATED = "escalated"        # unacknowledged for too long
ACKNOWLEDGED = "acknowledged"  # unack_active -> ack_active
RETURNED = "returned"          # unack_active -> unack_rtn
CLEARED = "normal"             # ack_active -> normal, unack_rtn -> normal (ack), or removed
SHELVED = "shelved"
UNSHELVED = "unshelved"
RELEASED = "released"          # published after a flood held it back
