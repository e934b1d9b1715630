"""Helpers shared by test packages (a real sidecar subprocess, ...)."""
