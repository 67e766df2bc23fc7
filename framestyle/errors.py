"""Errors a user can fix. The CLI prints them as one `error:` line and exits 2."""


class UserError(Exception):
    """Bad input, missing file, unknown model, missing optional package..."""

