"""The `@patch_to` playground tab: fastcore's three patch modes on a tiny class, run live.

Only this fixed snippet runs, with the two integers the user picks substituted into it:
no user code is ever executed.
"""

import contextlib
import html
import io
import math
import threading

import gradio as gr

from snapmix_demo.errors import InputError, excerpt

__all__ = ["LIMIT", "SNIPPET", "build", "playground_value", "run_snippet", "snippet"]

LIMIT = 10**9  # the values are whole numbers from -LIMIT to LIMIT
FIELDS = {"class_val": "Counter.val (class)", "instance_val": "self.val (instance)"}

SNIPPET = """\
import builtins
from fastcore.basics import patch_to

class Counter:
    val = {class_val}                      # on the class

    def __init__(self):
        self.val = {instance_val}          # on the instance: shadows the class's

@patch_to(Counter)                    # default: a method, bound to the instance
def print(self):
    return self.val

@patch_to(Counter, cls_method=True)   # cls_method: bound to the class
def from_class(cls):
    return cls.val

@patch_to(Counter, as_prop=True)      # as_prop: a property, read without ()
def current(self):
    return self.val

c = Counter()
print("default     c.print()            ->", c.print())
print("cls_method  Counter.from_class() ->", Counter.from_class())
print("as_prop     c.current            ->", c.current)
print("our `def print` patched Counter; the builtin print is intact:", print is builtins.print)
"""

EXPLANATION = """
**What you see.** `@patch_to(Counter)` adds the function to the *original* class, so every
instance gets it: no subclass, no changed import. The three modes differ in what the function
is bound to: the **instance** (`self.val`, the instance's value), the **class** (`cls.val`, the
class's value, whatever any instance holds), or a **property** of the instance (read like an
attribute). Naming the patch `print` does not hide the builtin: `patch_to` hands back what the
name meant before, so the module's `print` is untouched.

**How the app uses it.** `snapmix_demo/patches.py` patches geffnet's `GenEfficientNet` and
torchvision's `ResNet`, `DenseNet`, `EfficientNet` and `MobileNetV2` the same way, once at
import: `model.extract_features(x)` and `model.get_fc()` (default), `model.fc_layer`
(as_prop) and `type(model).fc_path()` (cls_method, a class-level fact: the path of the
classifier inside every instance). Classes that share a body are patched in one call with a
tuple of classes. All three modes reach the same `nn.Linear`, so SnapMix's results are
bit-identical whichever you pick on the first tab.
"""

_stdout_lock = threading.Lock()  # redirect_stdout swaps a process-wide stream


def snippet(class_val: int, instance_val: int) -> str:
    """The playground's code with the two values substituted."""
    return SNIPPET.format(class_val=int(class_val), instance_val=int(instance_val))


def run_snippet(class_val: int, instance_val: int) -> tuple[str, str]:
    """Execute the snippet in a fresh namespace; its source and what it printed."""
    code = snippet(class_val, instance_val)
    out = io.StringIO()
    with _stdout_lock, contextlib.redirect_stdout(out):
        exec(compile(code, "<playground>", "exec"), {"__name__": "playground"})
    return code, out.getvalue()


def playground_value(value: object, field: str) -> int:
    """One of the two values as typed (raw: `gr.Number` would round 1.5 to 2): a whole number up to a billion.

    Raises:
        InputError: naming the field (`class_val` or `instance_val`).
    """
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not (number and float(value).is_integer() and abs(value) <= LIMIT):
        got = "nothing" if value is None or value == "" else excerpt(value)
        raise InputError(field, f"please enter a whole number from -1 000 000 000 to 1 000 000 000, got {got}")
    return int(value)


def _on_run(class_val, instance_val):
    """The snippet's source, its output and an empty banner; a bad value is named in the banner and a toast."""
    try:
        values = [playground_value(v, f) for v, f in ((class_val, "class_val"), (instance_val, "instance_val"))]
    except InputError as e:
        message = f"{FIELDS[e.field]}: {e.problem}."
        gr.Warning(html.escape(message))
        return gr.skip(), gr.skip(), f'<div class="banner error">{html.escape(message)}</div>'
    return (*run_snippet(*values), "")


def build() -> None:
    """Lay out the playground inside the current Blocks context and wire its button."""
    with gr.Row():
        with gr.Column(scale=3):
            code = gr.Code(
                snippet(10, 5),
                wrap_lines=True,
                language="python",
                label="Code (executed live)",
                interactive=False,
                elem_id="playground-code",
            )
        with gr.Column(scale=2):
            with gr.Row():
                class_val = gr.Number(10, precision=0, label="Counter.val (class)", elem_id="class-val")
                instance_val = gr.Number(5, precision=0, label="self.val (instance)", elem_id="instance-val")
            run = gr.Button("Run the three patches", variant="primary", elem_id="playground-run")
            banner = gr.HTML("", elem_id="playground-banner", padding=False)
            output = gr.Textbox(
                label="Output", lines=6, max_lines=6, elem_id="playground-output", elem_classes=["mono"]
            )
            gr.Markdown(EXPLANATION)
    # raw values: `gr.Number` would round 1.5 to 2 and fail on an empty field before `_on_run` could name it
    run.click(_on_run, [class_val, instance_val], [code, output, banner], api_visibility="private", preprocess=False)
