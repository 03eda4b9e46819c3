from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spyglass.attachments.models import safe_filename, write_file


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("app.log", "app.log"),
        ("../../etc/passwd", "passwd"),
        ("..", "attachment"),
        ("...", "attachment"),
        ("C:\\Users\\me\\report.txt", "report.txt"),
        (".bashrc", "bashrc"),
        ("a b;c$(rm).txt", "a_b_c_rm_.txt"),
        ("", "attachment"),
        ("x" * 300, "x" * 100),
    ],
)
def test_a_file_name_becomes_a_plain_name_in_a_small_alphabet(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_files_are_written_below_the_event_directory(tmp_path: Path, settings: Any) -> None:
    settings.DATA_DIR = tmp_path
    path = write_file(3, "a" * 32, 0, "../../x.txt", b"hello")
    assert path == f"attachments/3/{'a' * 32}/0-x.txt"
    assert (tmp_path / path).read_bytes() == b"hello"
    assert [p.name for p in (tmp_path / path).parent.iterdir()] == ["0-x.txt"]


@pytest.mark.parametrize("event_id", ["", "../" + "a" * 29, "A" * 32, "a" * 31])
def test_an_event_id_that_is_not_hex_is_refused_as_a_directory(
    tmp_path: Path, settings: Any, event_id: str
) -> None:
    settings.DATA_DIR = tmp_path
    with pytest.raises(ValueError):
        write_file(3, event_id, 0, "x", b"")
