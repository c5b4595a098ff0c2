"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class AuditorError(Exception):
    """A problem the user can fix: the message names the file/field and what to do."""


class ConfigError(AuditorError):
    pass


class DataError(AuditorError):
    pass


class ModelError(AuditorError):
    pass


class StoreError(AuditorError):
    pass
