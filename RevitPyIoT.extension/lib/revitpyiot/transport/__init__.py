# -*- coding: utf-8 -*-
"""The extension's transport to the sidecar: pure Python, IronPython 2.7 safe.

``msgpack_codec`` packs and unpacks frames, ``zmtp`` speaks ZeroMQ's wire
protocol over plain sockets, and ``client`` is the request/subscribe client
the commands use. Nothing here imports Revit.
"""
