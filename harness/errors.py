"""The harness's own failure: a problem with the set-up, not a conformance result."""


class HarnessError(Exception):
    """A tool or file the harness needs is missing or unusable; the message says how to fix it."""
