from __future__ import annotations

from typing import Any

from spyglass.grouping.tests.builders import (
    Event,
    contributing,
    event,
    exception,
    frame,
    group,
    leaves,
    primary,
)


def checkout_error(value: str = "card declined", lineno: int = 35, **frame_fields: Any) -> Event:
    frames = [
        frame("handle_request", "app.views", lineno=12),
        frame("charge_card", "app.payments", lineno=lineno, **frame_fields),
    ]
    return event(exceptions=[exception("PaymentError", value, frames)])


def test_the_same_exception_with_different_messages_groups_together() -> None:
    assert primary(checkout_error("card 4111 declined")) == primary(checkout_error("timeout"))


def test_the_same_exception_on_different_lines_groups_together() -> None:
    assert primary(checkout_error(lineno=35)) == primary(checkout_error(lineno=99))


def test_a_different_in_app_frame_makes_a_different_group() -> None:
    other = event(
        exceptions=[
            exception(
                "PaymentError",
                "card declined",
                [frame("handle_request", "app.views"), frame("refund_card", "app.payments")],
            )
        ]
    )
    assert primary(checkout_error()) != primary(other)


def test_a_different_exception_type_makes_a_different_group() -> None:
    frames = [frame("charge_card", "app.payments")]
    one = event(exceptions=[exception("PaymentError", "x", frames)])
    other = event(exceptions=[exception("TimeoutError", "x", frames)])
    assert primary(one) != primary(other)


def test_the_app_variant_is_preferred_and_the_system_variant_comes_last() -> None:
    frames = [
        frame("run", "gunicorn.workers", in_app=False),
        frame("charge_card", "app.payments"),
    ]
    result = group(event(exceptions=[exception("PaymentError", "x", frames)]))
    assert contributing(result) == ["app", "system"]
    assert result.hashes == [result.variants["app"].hash, result.variants["system"].hash]
    assert "gunicorn.workers" not in leaves(result, "app")
    assert "gunicorn.workers" in leaves(result, "system")


def test_system_frames_do_not_change_the_app_hash() -> None:
    def with_framework(version: str) -> Event:
        frames = [
            frame("run", f"gunicorn.workers.{version}", in_app=False),
            frame("charge_card", "app.payments"),
        ]
        return event(exceptions=[exception("PaymentError", "x", frames)])

    assert primary(with_framework("sync")) == primary(with_framework("gthread"))


def test_a_stack_without_in_app_frames_groups_by_the_system_variant() -> None:
    frames = [
        frame("urlopen", "urllib3.pool", in_app=False),
        frame("send", "requests.api", in_app=False),
    ]
    result = group(event(exceptions=[exception("ConnectionError", "refused", frames)]))
    assert contributing(result) == ["system"]
    assert result.variants["app"].component is not None
    app_leaves = result.variants["app"].component.find("stacktrace")
    assert next(app_leaves).hint == "ignored because it contains no in-app frames"
    assert result.hashes == [result.variants["system"].hash]


def test_frames_nobody_marked_count_as_system_frames() -> None:
    frames = [frame("send", "requests.api", in_app=None)]
    result = group(event(exceptions=[exception("ConnectionError", "refused", frames)]))
    assert contributing(result) == ["system"]


def test_without_a_stack_trace_the_parameterized_value_groups() -> None:
    one = event(exceptions=[exception("KeyError", "no orders for user 7")])
    other = event(exceptions=[exception("KeyError", "no orders for user 12")])
    third = event(exceptions=[exception("KeyError", "no invoices for user 7")])
    assert primary(one) == primary(other) != primary(third)
    assert leaves(group(one), "app") == ["KeyError", "no orders for user <int>"]


def test_the_value_is_ignored_when_the_stack_trace_contributes() -> None:
    result = group(checkout_error("card declined"))
    assert "card declined" not in leaves(result, "app")


def test_a_synthetic_exception_groups_by_its_stack_not_its_type() -> None:
    def synthetic(type_name: str) -> Event:
        mechanism = {"type": "signalhandler", "synthetic": True}
        frames = [frame("main", "app.main"), frame("crash", "app.native")]
        return event(exceptions=[exception(type_name, "x", frames, mechanism=mechanism)])

    assert primary(synthetic("SIGSEGV")) == primary(synthetic("EXC_BAD_ACCESS"))


def test_every_exception_of_a_chain_contributes_in_order() -> None:
    cause = exception("ValueError", "bad", [frame("parse", "app.parse")])
    error = exception("PaymentError", "failed", [frame("checkout", "app.shop")])
    result = group(event(exceptions=[cause, error]))
    assert leaves(result, "app") == [
        "app.parse",
        "parse",
        "ValueError",
        "app.shop",
        "checkout",
        "PaymentError",
    ]
    swapped = group(event(exceptions=[error, cause]))
    assert swapped.hashes != result.hashes


def test_a_different_cause_makes_a_different_group() -> None:
    error = exception("PaymentError", "failed", [frame("checkout", "app.shop")])
    one = event(exceptions=[exception("ValueError", "x", [frame("parse", "app.parse")]), error])
    other = event(exceptions=[exception("KeyError", "x", [frame("parse", "app.parse")]), error])
    assert primary(one) != primary(other)


def test_recursion_counts_once() -> None:
    def recursive(depth: int) -> Event:
        frames = [frame("main", "app.main", lineno=1)]
        frames += [frame("walk", "app.tree", lineno=20) for _ in range(depth)]
        frames += [frame("leaf", "app.tree", lineno=30)]
        return event(exceptions=[exception("RecursionError", "deep", frames)])

    assert primary(recursive(2)) == primary(recursive(50))
    assert leaves(group(recursive(3)), "app").count("walk") == 1


def test_exception_groups_with_the_same_leaf_group_like_that_leaf() -> None:
    def group_of(count: int) -> Event:
        leaves_ = [
            exception(
                "ValueError",
                f"bad {i}",
                [frame("parse", "app.parse")],
                mechanism={"type": "chained", "exception_id": i + 1, "parent_id": 0},
            )
            for i in range(count)
        ]
        root = exception(
            "ExceptionGroup",
            "many",
            [frame("run", "app.main")],
            mechanism={"type": "generic", "exception_id": 0, "is_exception_group": True},
        )
        return event(exceptions=[*leaves_, root])

    single = event(exceptions=[exception("ValueError", "bad", [frame("parse", "app.parse")])])
    assert primary(group_of(2)) == primary(group_of(5)) == primary(single)


def test_exception_groups_with_different_leaves_group_by_each_kind_and_the_group() -> None:
    def group_of(*types: str) -> Event:
        leaves_ = [
            exception(
                t,
                "x",
                [frame("work", "app.jobs")],
                mechanism={"type": "chained", "exception_id": i + 1, "parent_id": 0},
            )
            for i, t in enumerate(types)
        ]
        root = exception(
            "ExceptionGroup",
            "many",
            [frame("run", "app.main")],
            mechanism={"type": "generic", "exception_id": 0, "is_exception_group": True},
        )
        return event(exceptions=[*leaves_, root])

    assert primary(group_of("KeyError", "ValueError")) == primary(
        group_of("ValueError", "KeyError")
    )
    assert primary(group_of("KeyError", "ValueError")) != primary(group_of("KeyError", "OSError"))


def test_javascript_object_prefixes_and_anonymous_functions_do_not_matter() -> None:
    def js(function: str) -> Event:
        frames = [
            frame("<anonymous>", None, abs_path="/srv/app/index.js", filename="/srv/app/index.js"),
            frame(function, None, abs_path="/srv/app/cart.js", filename="/srv/app/cart.js"),
        ]
        return event("node", exceptions=[exception("TypeError", "x", frames)])

    assert primary(js("Object.lineTotal")) == primary(js("Cart.lineTotal"))
    assert primary(js("lineTotal")) != primary(js("cartTotal"))


def test_a_source_line_contributes_on_python_but_not_on_go() -> None:
    def with_line(platform: str, line: str) -> Event:
        frames = [frame("charge", "app.payments", context_line=line)]
        return event(platform, exceptions=[exception("PaymentError", "x", frames)])

    assert primary(with_line("python", "charge(1)")) != primary(with_line("python", "refund(1)"))
    assert primary(with_line("go", "charge(1)")) == primary(with_line("go", "refund(1)"))


def test_an_overlong_source_line_is_ignored() -> None:
    long_line = "x = " + "1 + " * 40
    frames = [frame("charge", "app.payments", context_line=long_line)]
    result = group(event(exceptions=[exception("PaymentError", "x", frames)]))
    assert long_line.strip() not in " ".join(leaves(result, "app"))


def test_module_wins_over_filename_and_filenames_are_compared_by_basename() -> None:
    def at(path: str, module: str | None) -> Event:
        frames = [frame("charge", module, abs_path=path, filename=path)]
        return event(exceptions=[exception("PaymentError", "x", frames)])

    assert primary(at("/srv/v1/app/pay.py", "app.pay")) == primary(
        at("/srv/v2/app/pay.py", "app.pay")
    )
    assert primary(at("/srv/v1/Pay.py", None)) == primary(at("C:\\srv\\pay.py", None))


def test_javascript_frames_from_urls_group_by_function_not_by_bundle_name() -> None:
    def bundle(name: str, function: str = "Object.submit") -> Event:
        url = f"https://cdn.example.com/static/js/{name}"
        frames = [frame(function, None, abs_path=url, filename=url)]
        return event("javascript", exceptions=[exception("TypeError", "x", frames)])

    assert primary(bundle("main.3f2a1b9c.js")) == primary(bundle("main.9e8d7c6b.js"))
    assert primary(bundle("main.js", "submit")) != primary(bundle("main.js", "cancel"))


def test_source_mapped_javascript_frames_group_by_their_original_module() -> None:
    def mapped(path: str) -> Event:
        frames = [
            frame(
                "submit",
                None,
                abs_path=f"webpack:///./src/{path}",
                filename=f"./src/{path}",
                data={"sourcemap": "https://cdn.example.com/static/js/main.3f2a1b9c.js.map"},
            )
        ]
        return event("javascript", exceptions=[exception("TypeError", "x", frames)])

    assert leaves(group(mapped("cart/Checkout.tsx")), "app")[:2] == ["src/cart/Checkout", "submit"]
    assert primary(mapped("cart/Checkout.tsx")) != primary(mapped("cart/Payment.tsx"))


def test_java_lambdas_and_generated_classes_are_cleaned() -> None:
    def java(module: str, function: str) -> Event:
        frames = [frame(function, module, filename="Shop.java")]
        return event("java", exceptions=[exception("IllegalStateException", "x", frames)])

    proxy_a = java("com.shop.Cart$$EnhancerByCGLIB$$1a2b3c4d", "checkout")
    proxy_b = java("com.shop.Cart$$EnhancerByCGLIB$$99ffee00", "checkout")
    assert primary(proxy_a) == primary(proxy_b)
    assert "lambda$checkout$0" not in leaves(
        group(java("com.shop.Cart", "lambda$checkout$0")), "app"
    )


def test_native_function_signatures_are_trimmed() -> None:
    def native(function: str) -> Event:
        frames = [frame(function, None, package="/app/bin/shop", instruction_addr="0x1000")]
        return event("native", exceptions=[exception("SIGSEGV", "x", frames)])

    one = native("shop::Cart::total(std::vector<int> const&) const")
    other = native("shop::Cart::total(std::vector<long> const&)")
    assert primary(one) == primary(other)
    assert "shop::Cart::total" in leaves(group(one), "app")


def test_an_exception_group_of_one_kind_names_its_leaf_as_the_main_exception() -> None:
    leaf = exception(
        "ValueError",
        "bad",
        [frame("parse", "app.parse")],
        mechanism={"type": "chained", "exception_id": 1, "parent_id": 0},
    )
    root = exception(
        "ExceptionGroup",
        "many",
        [frame("run", "app.main")],
        mechanism={"type": "generic", "exception_id": 0, "is_exception_group": True},
    )
    assert group(event(exceptions=[leaf, root])).main_exception_id == 1


def test_a_react_recovery_error_names_its_cause_as_the_main_exception() -> None:
    wrapper = exception(
        "Error",
        "There was an error while hydrating but React was able to recover by instead client "
        "rendering from the nearest Suspense boundary.",
        [frame("render", None, abs_path="/app/index.js")],
        mechanism={"type": "generic", "exception_id": 0},
    )
    cause = exception(
        "TypeError",
        "x is undefined",
        [frame("Cart", None, abs_path="/app/cart.js")],
        mechanism={"type": "chained", "source": "cause", "exception_id": 1, "parent_id": 0},
    )
    result = group(event("javascript", exceptions=[wrapper, cause]))
    assert result.main_exception_id == 1


def test_a_plain_chain_has_no_main_exception_override() -> None:
    cause = exception("ValueError", "bad", [frame("parse", "app.parse")])
    error = exception("PaymentError", "failed", [frame("checkout", "app.shop")])
    assert group(event(exceptions=[cause, error])).main_exception_id is None


def test_ruby_blocks_and_erb_template_suffixes_are_cleaned() -> None:
    def ruby(function: str) -> Event:
        frames = [
            frame(function, None, filename="app/views/cart.rb", abs_path="/app/views/cart.rb")
        ]
        return event("ruby", exceptions=[exception("NoMethodError", "x", frames)])

    assert primary(ruby("block in render")) == primary(ruby("block (2 levels) in render"))
    assert primary(ruby("_app_views_cart_erb__1234_5678")) == primary(
        ruby("_app_views_cart_erb__9999_1111")
    )


def test_php_anonymous_classes_group_by_their_method() -> None:
    def php(function: str) -> Event:
        frames = [frame(function, None, filename="Cart.php", abs_path="/srv/Cart.php")]
        return event("php", exceptions=[exception("Error", "x", frames)])

    one = php("class@anonymous/srv/Cart.php:12$0::total")
    other = php("class@anonymous/srv/Cart.php:12$1::total")
    assert primary(one) == primary(other)


def test_csharp_groups_by_the_full_function_name() -> None:
    def dotnet(function: str) -> Event:
        frames = [frame(function, "Shop.Cart", filename="Cart.cs")]
        return event("csharp", exceptions=[exception("System.Exception", "x", frames)])

    assert "Total (System.Int32 count)" in leaves(
        group(dotnet("Total (System.Int32 count)")), "app"
    )
