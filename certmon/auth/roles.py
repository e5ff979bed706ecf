"""The role names (a leaf module: settings validate against it without importing the ORM)."""

ROLES = ("admin", "analyst", "reader", "constituent", "feeder")  # feeder: pushes to granted sources only
