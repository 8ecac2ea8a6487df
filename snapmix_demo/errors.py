"""How the core reports bad input: short, printable excerpts of untrusted values, and errors that name their field."""

__all__ = ["InputError", "UserError", "excerpt"]

EXCERPT_CHARS = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """Excerpt of `value` for a message: at most `limit` printable characters, control characters escaped."""
    if isinstance(value, int) and value.bit_length() > 4 * limit:  # str() of a huge int is slow, refused past 4300
        return f"a number of {value.bit_length() * 30103 // 100000 + 1} digits"
    text = str(value)[: limit * 4]  # bound the work before escaping
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


class UserError(ValueError):
    """A problem the user can fix, with a message written for them (bad input, an unusable file, no network).

    The app and the command line show these messages as they are; any other exception, a `ValueError`
    from numpy or torch included, is an internal error: logged, and reported in general terms.
    """


class InputError(UserError):
    """A bad value of one input. `field` is its parameter name; `problem` says what is wrong, for a user.

    The message names the field as Python callers know it (`` `box_a`: ... ``); the web app and the
    command line re-word the same `problem` with the field's name as their users see it.
    """

    def __init__(self, field: str, problem: str):
        super().__init__(f"`{field}`: {problem}")
        self.field = field
        self.problem = problem
