"""The @patch_to playground's snippet, executed as the app executes it."""

import builtins

import pytest

from snapmix_demo.app.playground import playground_value, run_snippet, snippet
from snapmix_demo.errors import InputError


def test_the_three_modes_print_instance_class_and_property_values():
    code, output = run_snippet(10, 5)
    lines = output.strip().splitlines()
    assert lines[0].endswith("-> 5"), "default mode is bound to the instance"
    assert lines[1].endswith("-> 10"), "cls_method is bound to the class"
    assert lines[2].endswith("-> 5"), "as_prop is read on the instance, without ()"
    assert lines[3].endswith("True"), "the builtin print is intact"
    assert "@patch_to(Counter, cls_method=True)" in code
    assert builtins.print is print


def test_values_are_substituted_as_integers_only():
    code, output = run_snippet(-3, 42)
    assert "val = -3" in code and "self.val = 42" in code
    assert output.splitlines()[1].endswith("-> -3")
    with pytest.raises(ValueError, match="invalid literal"):
        snippet("1; import os", 2)


@pytest.mark.parametrize("typed", [None, "", 99999999999, 1.5, float("nan"), True, "7"])
def test_a_value_the_snippet_cannot_take_is_named_not_rounded(typed):
    with pytest.raises(InputError, match="please enter a whole number from -1 000 000 000") as e:
        playground_value(typed, "class_val")
    assert e.value.field == "class_val"


def test_whole_numbers_up_to_a_billion_pass_as_ints():
    assert playground_value(-(10**9), "class_val") == -(10**9)
    assert playground_value(7.0, "instance_val") == 7 and isinstance(playground_value(7.0, "instance_val"), int)
