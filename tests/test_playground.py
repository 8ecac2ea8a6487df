"""The @patch_to playground's snippet, executed as the app executes it."""

import builtins

import pytest

from snapmix_demo.app.playground import run_snippet, snippet


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
