"""Errors a user can fix: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input (config, file, record or option); the message names what is at fault."""

    exit_code = 2
