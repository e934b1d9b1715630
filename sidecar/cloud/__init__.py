"""Cloud connectors: Azure IoT Hub and AWS IoT Core behind one interface, with an on-disk
store-and-forward outbox each. See docs/cloud.md.

Importing this package does not import the cloud SDKs; :func:`create_connector` does, for the
kind asked for.
"""
from .base import CloudConnector, CommandHandler, ConnectorConfigError, connector_kinds, create_connector
from .secrets import SecretError

__all__ = ["CloudConnector", "CommandHandler", "ConnectorConfigError", "SecretError", "connector_kinds",
           "create_connector"]
