"""Request paths: a caller's value as one URL path segment."""

import urllib.parse

from .errors import BadRequestError


def segment(value, name):
    """value (a non-empty string) escaped as one path segment, so that no
    id can reach another endpoint; anything else is refused naming the
    argument."""
    if not isinstance(value, str) or not value:
        raise BadRequestError("argument %s: required (a non-empty string)" % name, field=name)
    return urllib.parse.quote(value, safe="")
