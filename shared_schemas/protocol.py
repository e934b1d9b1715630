# -*- coding: utf-8 -*-
"""Protocol constants shared by the sidecar (CPython 3.11+) and the Revit
extension (IronPython 2.7).

This module is the single source of truth for names and numbers that appear on
the wire (see PROTOCOL.md and the JSON Schemas beside this file). It must stay
importable by IronPython 2.7: no f-strings, no type hints, no third-party
imports, plain literals only.
"""

__version__ = "0.1.0"

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)

DEFAULT_COMMAND_ENDPOINT = "tcp://127.0.0.1:5570"
DEFAULT_EVENT_ENDPOINT = "tcp://127.0.0.1:5571"
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
STATUS_HEARTBEAT_S = 5.0

# Request types (command endpoint); a reply repeats its request's type.
HELLO = "hello"
CONFIGURE = "configure"
START = "start"
STOP = "stop"
STATUS = "status"
SNAPSHOT = "snapshot"
ACK = "ack"
INGEST = "ingest"
HISTORY = "history"  # additive to v1: a sensor's stored series (docs/protocol.md, "Additive requests")
# Additive to v1: alarm management (docs/protocol.md, "Additive requests").
SHELVE = "shelve"
UNSHELVE = "unshelve"
SET_LIMITS = "set_limits"
WORKORDERS = "workorders"  # additive to v1: maintenance work orders (docs/protocol.md, "Additive requests")
REQUEST_TYPES = (HELLO, CONFIGURE, START, STOP, STATUS, SNAPSHOT, ACK, INGEST, HISTORY, SHELVE, UNSHELVE,
                 SET_LIMITS, WORKORDERS)
HISTORY_RESOLUTIONS = ("raw", "1m", "1h", "auto")
HISTORY_BUCKET_S = {"1m": 60.0, "1h": 3600.0}  # seconds one roll-up point covers (stamped with its start)

# Event topics (event endpoint).
TOPIC_ALERT = "alert"
TOPIC_HEALTH = "health"
TOPIC_STATUS = "status"
EVENT_TOPICS = (TOPIC_ALERT, TOPIC_HEALTH, TOPIC_STATUS)

# Sidecar states.
STATE_IDLE = "idle"
STATE_CONFIGURED = "configured"
STATE_MONITORING = "monitoring"
STATE_STOPPING = "stopping"
STATES = (STATE_IDLE, STATE_CONFIGURED, STATE_MONITORING, STATE_STOPPING)

# Error codes.
E_BAD_REQUEST = "bad_request"
E_UNAUTHORIZED = "unauthorized"
E_UNSUPPORTED_VERSION = "unsupported_version"
E_UNKNOWN_TYPE = "unknown_type"
E_TOO_LARGE = "too_large"
E_CONFLICT = "conflict"
E_INTERNAL = "internal"
ERROR_CODES = (E_BAD_REQUEST, E_UNAUTHORIZED, E_UNSUPPORTED_VERSION, E_UNKNOWN_TYPE,
               E_TOO_LARGE, E_CONFLICT, E_INTERNAL)

# Health statuses, worst last, and the colour every view uses for each (RGB).
STATUS_OK = "ok"
STATUS_WATCH = "watch"
STATUS_WARNING = "warning"
STATUS_CRITICAL = "critical"
STATUS_UNKNOWN = "unknown"
HEALTH_STATUSES = (STATUS_OK, STATUS_WATCH, STATUS_WARNING, STATUS_CRITICAL, STATUS_UNKNOWN)
STATUS_COLOURS = {
    STATUS_OK: (46, 160, 67),
    STATUS_WATCH: (242, 201, 76),
    STATUS_WARNING: (242, 142, 43),
    STATUS_CRITICAL: (214, 39, 40),
    STATUS_UNKNOWN: (150, 150, 150),
}
# Ordering used to pick "the worst" status of a set (unknown is not worse than critical).
STATUS_RANK = {STATUS_OK: 0, STATUS_UNKNOWN: 1, STATUS_WATCH: 2, STATUS_WARNING: 3, STATUS_CRITICAL: 4}

# Alert severities and states.
SEVERITY_INFO = "info"
SEVERITY_WARNING = "warning"
SEVERITY_CRITICAL = "critical"
SEVERITIES = (SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL)

ALERT_ACTIVE = "active"
ALERT_ACKNOWLEDGED = "acknowledged"
ALERT_CLEARED = "cleared"
ALERT_STATES = (ALERT_ACTIVE, ALERT_ACKNOWLEDGED, ALERT_CLEARED)
# ISA-18.2 alarm states (the additive Alert field ``isa_state``); ``state`` above maps them:
# unack_active -> active, ack_active -> acknowledged, unack_rtn and normal -> cleared.
ISA_UNACK_ACTIVE = "unack_active"
ISA_ACK_ACTIVE = "ack_active"
ISA_UNACK_RTN = "unack_rtn"
ISA_NORMAL = "normal"
ISA_STATES = (ISA_UNACK_ACTIVE, ISA_ACK_ACTIVE, ISA_UNACK_RTN, ISA_NORMAL)

# Element kinds and space kinds in a BuildingConfig.
KIND_EQUIPMENT = "equipment"
KIND_SENSOR = "sensor"
ELEMENT_KINDS = (KIND_EQUIPMENT, KIND_SENSOR)
SPACE_KINDS = ("room", "space")

# Well-known quantities and their UCUM-style default units.
QUANTITY_UNITS = {
    "temperature": "Cel",
    "humidity": "%",
    "co2": "ppm",
    "voc": "ppb",
    "pm25": "ug/m3",
    "occupancy": "{persons}",
    "power": "kW",
    "energy": "kW.h",
    "vibration": "mm/s",
    "pressure": "Pa",
    "flow": "L/s",
    "current": "A",
    "status": "1",
}

# Source URI schemes a sensor may be bound to.
SOURCE_SCHEMES = ("sim", "ingest", "mqtt", "modbus", "bacnet", "http", "https")

# Shared parameter names the extension writes (health tags) and reads (sensor binding).
PARAM_SENSOR_ID = "IoT Sensor Id"
PARAM_SOURCE = "IoT Source"
PARAM_QUANTITY = "IoT Quantity"
PARAM_UNIT = "IoT Unit"
PARAM_HOST = "IoT Host"
PARAM_LIMIT_LOW = "IoT Limit Low"
PARAM_LIMIT_HIGH = "IoT Limit High"
PARAM_LIMIT_LOW_CRITICAL = "IoT Limit Low Critical"
PARAM_LIMIT_HIGH_CRITICAL = "IoT Limit High Critical"
PARAM_HEALTH_SCORE = "IoT Health Score"
PARAM_HEALTH_STATUS = "IoT Health Status"
PARAM_FAILURE_PROBABILITY = "IoT Failure Probability"
PARAM_TTF_HOURS = "IoT Time To Failure h"
PARAM_LAST_ALERT = "IoT Last Alert"
PARAM_UPDATED = "IoT Updated"

# Where the sidecar keeps its token and data, relative to the user's local
# application-data folder (%LOCALAPPDATA% on Windows, $XDG_DATA_HOME or
# ~/.local/share elsewhere).
APP_DIR_NAME = "RevitPyIoT"
TOKEN_FILE_NAME = "token"


def worst_status(statuses):
    """The worst of an iterable of health statuses (``unknown`` when empty)."""
    worst = None
    for status in statuses:
        if worst is None or STATUS_RANK.get(status, 1) > STATUS_RANK.get(worst, 1):
            worst = status
    return worst if worst is not None else STATUS_UNKNOWN
