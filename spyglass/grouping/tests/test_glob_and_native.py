from __future__ import annotations

import pytest

from spyglass.grouping.frames import js_module_from_url
from spyglass.grouping.glob import glob_match, path_match
from spyglass.grouping.native import trim_function_name


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("foo/bar", "foo*", True),  # plain globs: `*` crosses slashes
        ("Foo", "foo", False),
        ("x.y", "x?y", True),
        ("a[b", "a[[]b", True),
        ("abc", "a[!x]c", True),
        ("abc", "a[!b]c", False),
        ("one.two", "{one,two}.*", True),
        ("1.18.4.2153-2aa83397b", "1.18.[0-4].*", True),
        ("line\nbreak", "line*", True),
        ("a*b", "a\\*b", True),
        ("axb", "a\\*b", False),
    ],
)
def test_plain_globs(value: str, pattern: str, expected: bool) -> None:
    assert glob_match(value, pattern) is expected


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("/srv/node_modules/x/index.js", "**/node_modules/**", True),
        ("node_modules/x/index.js", "**/node_modules/**", True),  # retried with a leading slash
        ("/srv/app/index.js", "**/node_modules/**", False),
        ("foo/hello.py", "*.py", False),  # `*` stops at slashes
        ("foo/hello.py", "**/*.py", True),
        ("hello.py", "**/*.py", True),
        ("C:\\Work\\Vendor\\lib.py", "**/vendor/**", True),  # backslashes and case
        ("/Users/me/App.app/Contents/MacOS/App", "**.app/Contents/**", True),
    ],
)
def test_path_globs(value: str, pattern: str, expected: bool) -> None:
    assert path_match(value, pattern) is expected


@pytest.mark.parametrize(
    ("function", "platform", "expected"),
    [
        ("std::vector<int>::push_back(int const&) const", "native", "std::vector<T>::push_back"),
        ("unsigned int main(int, char**)", "native", "main"),
        ("foo() [clone .cold.1]", "native", "foo"),
        ("operator<<(std::ostream&, Foo const&)", "native", "operator<<"),
        ("(anonymous namespace)::bar(int)", "native", "(anonymous namespace)::bar"),
        ("main::$_0::operator()() const", "native", "main::lambda::operator()"),
        (
            "<alloc::vec::Vec<T> as core::ops::Drop>::drop::h1234567890abcdef",
            "native",
            "alloc::vec::Vec<T>::drop",
        ),
        ("memcpy@GLIBC_2.14", "native", "memcpy"),
        ("-[NSObject foo:]", "cocoa", "-[NSObject foo:]"),
        ("Shop.Cart.Total (System.Int32 count)", "csharp", "Shop.Cart.Total"),
        ("handle_request(request)", "python", "handle_request(request)"),
    ],
)
def test_function_names_are_trimmed_per_platform(
    function: str, platform: str, expected: str
) -> None:
    assert trim_function_name(function, platform) == expected


@pytest.mark.parametrize(
    ("url", "module"),
    [
        ("http://127.0.0.1:8000/app.js", "app"),
        ("https://cdn.example.com/static/js/main.3f2a1b9c.js", "main"),
        ("https://cdn.example.com/js/v1.2.3/vendor/lodash.min.js?x=1#y", "vendor/lodash"),
        ("https://example.com/d41d8cd98f00b204e9800998ecf8427e/app/page.js", "app/page"),
        ("webpack:///./src/components/Cart.tsx", "src/components/Cart"),
        ("app:///_next/static/chunks/pages/index-4d2e8f9a1b.js", "chunks/pages/index"),
    ],
)
def test_javascript_modules_come_from_script_urls_without_versions_and_hashes(
    url: str, module: str
) -> None:
    assert js_module_from_url(url) == module
