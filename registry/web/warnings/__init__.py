"""Warnings 预警 (issue 17): the city-wide list, one warning with its evidence, assign and close."""
