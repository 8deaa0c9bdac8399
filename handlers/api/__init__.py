"""The interfaces for other systems: the JSON API (v1) and its Open311 GeoReport v2 facade."""
