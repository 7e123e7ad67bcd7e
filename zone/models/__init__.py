"""Models kept in the zone (``keep_in_zone``): the registry that saves and reads them."""
