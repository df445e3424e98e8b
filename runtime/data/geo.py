"""Distance in SQL: "within r metres of a point" as an index range, then the exact distance.

The bounding box (:func:`metamodel.geo.bounding_box`) becomes ``BETWEEN`` ranges on a geo
field's latitude and longitude columns, which share one index: the database reads only the
index entries inside the box. The great-circle distance then decides, on the few rows left.
PostgreSQL computes it with its own trigonometry (no PostGIS needed); SQLite calls
``loom_distance``, the same haversine in Python, registered on every connection
(:mod:`runtime.data.db`).
"""
from __future__ import annotations

from sqlalchemy import Float, and_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from metamodel.geo import EARTH_RADIUS_M, Point, bounding_box


class distance_m(FunctionElement):
    """Metres between ``(lat1, lon1)`` and ``(lat2, lon2)``, degrees in, NULL if any is NULL."""

    type = Float()
    name = "loom_distance"
    inherit_cache = True


@compiles(distance_m)
def _distance_sqlite(element, compiler, **kw):
    return f"loom_distance({compiler.process(element.clauses, **kw)})"


@compiles(distance_m, "postgresql")
def _distance_postgresql(element, compiler, **kw):
    lat1, lon1, lat2, lon2 = (compiler.process(c, **kw) for c in element.clauses)
    h = (f"power(sin(radians(({lat2}) - ({lat1})) / 2), 2) + cos(radians({lat1})) * cos(radians({lat2})) "
         f"* power(sin(radians(({lon2}) - ({lon1})) / 2), 2)")
    return f"(2 * {EARTH_RADIUS_M} * asin(least(1.0, sqrt({h}))))"


def near(lat, lon, centre: Point, radius_m: float):
    """Rows whose point (columns ``lat``, ``lon``) lies within ``radius_m`` of ``centre``."""
    box = bounding_box(centre, radius_m)
    parts = [lat.between(box.lat_min, box.lat_max)]
    if box.lons:
        parts.append(or_(*[lon.between(west, east) for west, east in box.lons]))
    else:
        parts.append(lon.is_not(None))
    parts.append(distance_m(lat, lon, centre.lat, centre.lon) <= radius_m)
    return and_(*parts)
