"""What the transient overlay shows in the fake Revit, read the way a user sees it: the image
the TemporaryGraphicsManager draws at an element (its centre pixel's colour), the AVF marker
value at an element, and the AVF heat-map value on a room's floor."""
import struct
import zlib


def _png_centre(path):
    """The RGB of the centre pixel of an 8-bit RGBA PNG without row filters (what the overlay writes)."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    row = raw[(height // 2) * stride:(height // 2 + 1) * stride]
    assert row[0] == 0
    x = width // 2
    return tuple(row[1 + 4 * x:4 + 4 * x])


def _point(element):
    from revitpyiot import extract
    return extract.element_point(element)


def marker_colour(doc, view, element):
    """The colour of the overlay marker drawn at ``element`` in ``view`` (None: none drawn)."""
    manager = doc._tgm
    point = _point(element)
    if manager is None or point is None:
        return None
    for data, view_id, visible in manager._controls.values():
        if view_id == view.Id and visible and data.Position is not None and data.Position.DistanceTo(point) < 1e-6:
            return _png_centre(data.ImagePath)
    return None


def marker_values(view, element):
    """AVF marker values at ``element`` (Revit before 2022)."""
    manager = getattr(view, "_sfm", None)
    point = _point(element)
    found = []
    for primitive in (manager._primitives.values() if manager is not None else []):
        domain = primitive["domain"]
        if primitive["geometry"] is None and domain is not None and \
                any(p.DistanceTo(point) < 1e-6 for p in domain._points):
            found.extend(v[0] for v in primitive["values"]._values)
    return found


def heat_value(view, room):
    """The heat-map value on ``room``'s floor in ``view`` (None: not coloured)."""
    manager = getattr(view, "_sfm", None)
    for primitive in (manager._primitives.values() if manager is not None else []):
        face = primitive["geometry"]
        if face is not None and primitive["values"] is not None and face.FaceNormal.Z < 0 \
                and face.Origin.DistanceTo(room._min) < 1e-6:
            return primitive["values"]._values[0][0]
    return None


def count_drawn(doc, view):
    markers = len([c for c in (doc._tgm._controls.values() if doc._tgm is not None else []) if c[1] == view.Id])
    sfm = getattr(view, "_sfm", None)
    return markers + (len(sfm._primitives) if sfm is not None else 0)
