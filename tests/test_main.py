from skclean.__main__ import demo, main


def test_demo_cleans_and_plots(tmp_path, capsys):
    out = tmp_path / "demo.png"
    res = demo(out=str(out))
    assert out.stat().st_size > 10_000
    assert res["n_fixed"] >= 0.8 * res["n_flipped"]
    assert res["f1_cleaned"] > res["f1_noisy"]
    assert "wrong labels fixed" in capsys.readouterr().out


def test_cli(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "d.png"), "--noise", "0.1"]) == 0
