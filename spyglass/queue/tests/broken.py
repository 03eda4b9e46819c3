"""A digest entry point whose module cannot be imported (for test_worker)."""

import spyglass_no_such_dependency  # type: ignore[import-not-found]  # noqa: F401
