"""The one exception the report raises for bad input."""


class ReportError(Exception):
    """A results directory the report cannot use. The message is one line naming the file and
    what is wrong with it, fit to print as is (no traceback needed)."""
