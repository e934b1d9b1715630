# ruff: noqa: N999 - the fake mirrors the .NET namespace names
