"""Errors of the search language: every bad query raises one of these, with a position."""

from __future__ import annotations


class SearchSyntaxError(ValueError):
    """A query that does not parse. `position` and `end` are 0-based offsets (code points) of
    the offending text in the query, for a caret or a highlight in the search box."""

    def __init__(self, message: str, position: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.end = position if end is None else max(end, position)

    def __str__(self) -> str:
        return self.message

    def pointer(self, query: str) -> str:
        """The query on one line and a caret under the error on the next (for a terminal)."""
        line = query.replace("\n", " ").replace("\t", " ")
        width = max(1, self.end - self.position)
        return f"{line}\n{' ' * self.position}{'^' * width}"


class SearchTypeError(SearchSyntaxError):
    """A well-formed filter whose value does not fit its key (`timesSeen:abc`, `is:open`);
    the position is the value's."""
