"""``--config`` values that name nothing usable: refused with exit status 2 and a message that
says what to write instead, before any recording is read."""

from __future__ import annotations

import pytest
from battery import FAST, processed, refused, run


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ("tcp_lfc", r"'tcp_lfc' does not exist.*shipped configs: .*preprocess/tcp_lfcc"),
        ("preprocess/nope.yaml", r"does not exist.*shipped configs: demo, "),
        ("configs/preprocess/nope.yaml", r"does not exist.*shipped configs: "),
        ("default", r"'default' is ambiguous.*evaluate/default, synth/default, train/default"),
        ("..", r"is a directory"),
    ],
)
def test_a_config_that_names_nothing_is_refused(flat_corpus, tmp_path, config, pattern):
    cache = tmp_path / "c"
    result = run("preprocess", flat_corpus, cache, "--config", config, *FAST)
    refused(result, 2, rf"Invalid value for '--config': .*{pattern}")
    assert not cache.exists()


def test_a_shipped_config_by_name_with_overrides_after_it(flat_corpus, tmp_path):
    result = processed(
        run("preprocess", flat_corpus, tmp_path / "c", "--config", "tcp_ar_a_raw_256hz", *FAST)
    )
    assert "tcp_ar_a" in result.output
