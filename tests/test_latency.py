from kelly_jack.config import parse_config
from kelly_jack.engine.latency import LatencyManager


def test_defaults_are_the_seeds_20_ms_plus_1024_samples():
    lm = LatencyManager.from_config(parse_config("")["latency"])
    assert lm.frames(48000) == 960 + 1024
    assert lm.frames(44100) == 882 + 1024


def test_budget_in_milliseconds_scales_with_rate():
    lm = LatencyManager.from_config(parse_config("latency: {lookahead_ms: 10, inference_budget: '25ms'}")["latency"])
    assert lm.frames(48000) == 480 + 1200
    assert lm.frames(96000) == 960 + 2400
