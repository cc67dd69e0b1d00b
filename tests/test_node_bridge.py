"""The JSON-lines bridge to the npm engines (spec/engines/node), through its own test handler
(handlers/selftest.mjs): arrays round-trip bit for bit (-inf, NaN, every dtype), a handler's error
becomes a one-line Python error, a call past its deadline stops the process, and `stop()` stops it.
Skipped without node or without the npm packages (`python -m spec.engines.node install`)."""

import shutil

import numpy as np
import pytest

from spec.engines.node import bridge

pytestmark = [pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
              pytest.mark.skipif(not bridge.MODULES.is_dir(), reason="npm engines not installed")]


@pytest.fixture
def node():
    yield bridge
    bridge.stop()


def test_arrays_and_non_finite_numbers_round_trip_exactly(node):
    rows = np.array([[1.5, -np.inf, np.inf, np.nan], [0.0, -0.0, 5e-324, 3.0e38]])
    sent = {"f64": rows, "f32": rows.astype(np.float32), "ids": np.array([0, 151935, -1], dtype=np.int64),
            "scalar": -np.inf, "nested": {"list": [1, 2.5, "s", None, True]}}
    got = node.call("selftest", "echo", **sent)
    for name in ("f64", "f32"):
        assert got[name].dtype == sent[name].dtype and got[name].shape == rows.shape
        assert got[name].tobytes() == sent[name].tobytes()  # bit for bit: -0.0, NaN, subnormals, inf
    assert got["ids"].dtype == np.int32 and got["ids"].tolist() == [0, 151935, -1]
    assert got["scalar"] == -np.inf and got["nested"] == sent["nested"]


def test_a_handler_computes_on_what_it_receives(node):
    x = np.random.default_rng(0).standard_normal((2, 151_936))
    x[:, ::7] = -np.inf
    assert np.array_equal(node.call("selftest", "negate", x=x), -x)


def test_a_handler_error_is_one_python_line_naming_the_call(node):
    with pytest.raises(bridge.BridgeError, match=r"^node selftest\.fail: RangeError: boom second line$"):
        node.call("selftest", "fail", message="boom")
    with pytest.raises(bridge.BridgeError, match="handlers/absent.mjs"):
        node.call("absent", "op")
    assert node.call("selftest", "echo", ok=1) == {"ok": 1}  # the bridge survives a handler's error


def test_a_call_past_its_deadline_stops_the_process_and_the_next_call_starts_a_new_one(node):
    first = node.bridge().process
    with pytest.raises(bridge.BridgeTimeout, match="took more than 0.3 s"):
        node.call("selftest", "sleep", ms=5000, timeout=0.3)
    assert first.poll() is not None
    assert node.call("selftest", "pid") != first.pid


def test_stop_stops_the_process_and_one_process_serves_every_call(node):
    process = node.bridge().process
    assert node.call("selftest", "pid") == process.pid == node.call("selftest", "pid")
    node.stop()
    assert process.poll() is not None


def test_installed_names_the_npm_packages():
    assert not bridge.installed("no-such-package-here")
    assert bridge.installed("@huggingface/transformers") == (bridge.MODULES / "@huggingface/transformers").is_dir()
