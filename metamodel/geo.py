"""Geographic points: parsing, distances and the bounding box that lets an index answer "near".

A ``geo`` field holds a point, ``{"lat": 56.838, "lon": 60.597}`` (WGS 84 degrees),
stored in two indexed numeric columns. "Within 500 m of a point" is answered in two
steps: a latitude/longitude box that holds the circle (a range on indexed columns,
so the database reads only the candidates), then the exact great-circle distance.
Pure Python, shared by validation and the runtime.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG): haversine distances are within 0.5 % of the ellipsoid
MAX_RADIUS_M = 1_000_000  # a "near" wider than 1000 km is a different question
_DISTANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|km)\s*$")


@dataclass(frozen=True)
class Point:
    """A point on the earth: latitude -90..90, longitude -180..180, degrees."""

    lat: float
    lon: float

    def json(self) -> dict:
        return {"lat": self.lat, "lon": self.lon}

    def __str__(self) -> str:
        return f"{self.lat:.6f},{self.lon:.6f}"


def parse_point(value) -> Point:
    """``{"lat": .., "lon": ..}``, ``[lat, lon]`` or ``"lat,lon"`` as a checked :class:`Point`.

    Raises ValueError saying what is wrong (a missing half, text, an out-of-range degree).
    """
    if isinstance(value, Point):
        return value
    if isinstance(value, dict):
        unknown = set(value) - {"lat", "lon"}
        if unknown or "lat" not in value or "lon" not in value:
            raise ValueError(f"a point is {{'lat': .., 'lon': ..}}, got keys {sorted(value)}")
        lat, lon = value["lat"], value["lon"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        lat, lon = value
    elif isinstance(value, str) and value.count(",") == 1:
        lat, lon = value.split(",")
    else:
        raise ValueError(f"a point is {{'lat': .., 'lon': ..}} or 'lat,lon', got {value!r}")
    return Point(_degrees(lat, "latitude", 90), _degrees(lon, "longitude", 180))


def _degrees(value, what: str, limit: int) -> float:
    if isinstance(value, bool):
        raise ValueError(f"the {what} must be a number, got {value!r}")
    try:
        number = float(value.strip().replace(" ", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"the {what} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ValueError(f"the {what} must be between -{limit} and {limit} degrees, got {value!r}")
    return number


def parse_distance(text) -> float:
    """``"50 m"``, ``"500m"``, ``"1.5 km"`` as metres (greater than 0, at most 1000 km)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        metres = float(text)
    else:
        m = _DISTANCE.match(str(text))
        if m is None:
            raise ValueError(f"invalid distance {text!r}: expected a number and m or km, e.g. '50 m', '1.5 km'")
        metres = float(m.group(1)) * (1000 if m.group(2) == "km" else 1)
    if not 0 < metres <= MAX_RADIUS_M:
        raise ValueError(f"a distance must be more than 0 and at most {MAX_RADIUS_M // 1000} km, got {text!r}")
    return metres


def parse_near(value) -> tuple[Point, float]:
    """A ``near`` filter's value: ``"lat,lon,radius_m"``, ``[lat, lon, radius]`` or
    ``{"lat", "lon", "within"}`` (``within`` as ``"500 m"`` or metres)."""
    if isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k != "within"}
        if "within" not in value:
            raise ValueError("a near filter needs 'within', e.g. {lat: 56.8, lon: 60.6, within: 500 m}")
        return parse_point(rest), parse_distance(value["within"])
    parts = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if parts is None or len(parts) != 3:
        raise ValueError(f"a near filter is lat,lon,radius_m (e.g. 56.8389,60.6057,500), got {value!r}")
    radius = parts[2]
    if isinstance(radius, str) and not radius.strip().endswith("m"):
        radius = radius.strip() + " m"
    return parse_point(parts[:2]), parse_distance(radius)


def distance(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance in metres."""
    return haversine(a.lat, a.lon, b.lat, b.lon)


def haversine(lat1, lon1, lat2, lon2) -> float | None:
    """Metres between two points given in degrees (``None`` when any is missing)."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Box:
    """Latitude range and one or two longitude ranges (two when the box crosses 180°)
    that hold every point within a radius of a centre; ``lons`` empty: any longitude."""

    lat_min: float
    lat_max: float
    lons: tuple[tuple[float, float], ...]


def bounding_box(centre: Point, radius_m: float) -> Box:
    """The smallest latitude/longitude box around the circle (exact for the sphere).

    Latitude spans ±radius/R; longitude spans ±asin(sin(radius/R) / cos(lat)) around the
    centre, which is the circle's widest reach. Near a pole, or when the circle holds one,
    every longitude is possible.
    """
    angular = radius_m / EARTH_RADIUS_M
    pad = 1e-7  # about a centimetre: a point on the circle stays inside despite rounding
    lat_min, lat_max = centre.lat - math.degrees(angular) - pad, centre.lat + math.degrees(angular) + pad
    if lat_min <= -90 or lat_max >= 90:
        return Box(max(lat_min, -90.0), min(lat_max, 90.0), ())
    reach = math.sin(angular) / math.cos(math.radians(centre.lat))
    if reach >= 1:
        return Box(lat_min, lat_max, ())
    dlon = math.degrees(math.asin(reach)) + pad
    west, east = centre.lon - dlon, centre.lon + dlon
    if west < -180:
        return Box(lat_min, lat_max, ((west + 360, 180.0), (-180.0, east)))
    if east > 180:
        return Box(lat_min, lat_max, ((west, 180.0), (-180.0, east - 360)))
    return Box(lat_min, lat_max, ((west, east),))
