"""Errors a user can cause. The CLI prints them as one line and exits non-zero, never a traceback."""


class UserError(Exception):
    """A problem with the user's input (config, data, paths): the message says what and what to do."""


class TrainingDiverged(UserError):
    """Losses or weights became NaN or infinite more often than train.max_rollbacks allows."""
