"""How the core quotes untrusted values in its error messages: short, printable excerpts, never the whole input."""

__all__ = ["excerpt"]

EXCERPT_CHARS = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """Excerpt of `value` for a message: at most `limit` printable characters, control characters escaped."""
    text = str(value)[: limit * 4]  # bound the work before escaping
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"
