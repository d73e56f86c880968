"""Every benchmark script takes ``--device {cpu,cuda,auto}`` through ``benchmarks/_util.py``.

CI has no GPU, so ``--device cuda`` is tested for its error (exit code 2, a message naming
the flag, before any work) with ``torch.cuda.is_available`` patched to ``False``, and
``--device auto`` for its CPU fallback.  Importing a script must not run it.
"""

import argparse
import importlib
import inspect
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:  # the scripts import `_util` (and each other) by name
    sys.path.insert(0, str(BENCHMARKS))

SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "_util")
@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _import(name, capsys):
    module = importlib.import_module(name)
    out, err = capsys.readouterr()
    assert out == "", f"importing {name} printed: {out[:200]!r}"
    return module


def test_every_script_is_covered():
    assert len(SCRIPTS) >= 20
    assert {"bench_influence", "chef_exp1", "text_sparse", "reliability"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_importing_a_script_does_not_run_it(name, capsys):
    source = (BENCHMARKS / f"{name}.py").read_text()
    assert 'if __name__ == "__main__":' in source
    module = _import(name, capsys)
    assert "argv" in inspect.signature(module.main).parameters, "main(argv=None) expected"
    # the shared flag, not an ad-hoc one
    assert "add_device_argument(" in source
    assert '"--device", default=' not in source


@pytest.mark.parametrize("name", SCRIPTS)
def test_device_cuda_without_a_gpu_is_a_usage_error(name, no_cuda, capsys):
    source = (BENCHMARKS / f"{name}.py").read_text()
    # a script with its own flag would start the benchmark and fail late: refuse it here
    assert "add_device_argument(" in source, f"{name}.py does not use add_device_argument"
    module = _import(name, capsys)
    with pytest.raises(SystemExit) as exc:
        module.main(["--device", "cuda"])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert "--device cuda" in err and "no CUDA device" in err
    assert "--device cpu" in err and "--device auto" in err  # what to run instead
    assert err.lstrip().startswith("usage:")  # argparse's error: raised while parsing
    assert out == "", "the script printed (so started working) before the device check"


def _parser():
    util = importlib.import_module("_util")
    return util, util.add_device_argument(argparse.ArgumentParser(prog="bench"))


def test_auto_falls_back_to_the_cpu(no_cuda):
    util, p = _parser()
    args = p.parse_args(["--device", "auto"])
    assert util.resolve_device(p, args) == "cpu"
    assert args.device == "cpu"
    assert util.parse_args(p, ["--device", "auto"]).device == "cpu"
    assert util.parse_args(p, []).device == "cpu"  # the default


def test_auto_picks_cuda_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    util, p = _parser()
    assert util.parse_args(p, ["--device", "auto"]).device == "cuda"
    assert util.parse_args(p, ["--device", "cpu"]).device == "cpu"


def test_resolve_device_refuses_cuda_without_a_gpu(no_cuda, capsys):
    util, p = _parser()
    args = p.parse_args(["--device", "cuda"])
    with pytest.raises(SystemExit) as exc:
        util.resolve_device(p, args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--device cuda: no CUDA device is visible to torch" in err
    assert f"torch {torch.__version__}" in err


def test_unknown_device_is_refused(capsys):
    _, p = _parser()
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--device", "tpu"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_cheapest_benchmark_runs_on_the_cpu_with_auto(no_cuda, capsys):
    module = importlib.import_module("bench_influence")
    module.main(["--n", "256", "--width", "8", "--classes", "3", "--repeats", "1",
                 "--device", "auto"])
    out = capsys.readouterr().out
    assert "device cpu" in out.splitlines()[0]  # the header names the resolved device
    assert "closed-form GEMMs over (U1, R)" in out
