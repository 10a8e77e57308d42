import dataclasses

import numpy as np
import pytest
import torch

from baselines.networks.checkpoint import CheckpointError, load_checkpoint
from baselines.deepigeos.method import (TABLE_NAME, DeepIGeoS, GeodesicSettings, geodesic_maps, seeds_from_history)
from baselines.deepigeos.seeds import Seeds
from baselines.deepigeos.training import DeepIGeoSConfig, pnet_path, train_deepigeos
from baselines.geodesic.dijkstra import geodesic_dijkstra
from baselines.networks.inference import InferenceSettings
from baselines.networks.pnet import PNet
from benchmark.edits import Adjustment, Click, EditHistory, Stroke
from benchmark.io import discover
from benchmark.session import SessionConfig, run_session
from benchmark.phantoms.synth import synthesize
from tests.helpers import one_thread, tumour_case  # noqa: F401 - one_thread is a fixture

MODALITIES = ("flair", "t1", "t1ce", "t2")


pytestmark = pytest.mark.usefixtures("one_thread")


def test_seeds_from_clicks_and_strokes_latest_sign_wins():
    shape = (10, 10, 5)
    history = (EditHistory()
               .add([Click((1, 2, 3), True), Stroke(np.array([[4, 4, 2], [5, 4, 2]]), False), Adjustment(0.3)])
               .add([Click((4, 4, 2), True)]))
    seeds = seeds_from_history(history, shape)
    assert set(map(tuple, np.argwhere(seeds.foreground))) == {(1, 2, 3), (4, 4, 2)}
    assert set(map(tuple, np.argwhere(seeds.background))) == {(5, 4, 2)}
    assert seeds_from_history(EditHistory().add([Adjustment(-0.2)]), shape).empty
    with pytest.raises(ValueError, match="outside"):
        seeds_from_history(EditHistory().add([Click((10, 0, 0), True)]), shape)


def test_maps_are_exp_of_the_geodesic_distance_and_empty_sets_give_zero():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 14, 12, 10)).astype(np.float32)
    foreground = np.zeros((14, 12, 10), bool)
    foreground[3, 4, 5] = foreground[10, 2, 8] = True
    settings = GeodesicSettings(("flair",), lamb=0.7, iterations=4, scale=3.0)
    maps = geodesic_maps(image, Seeds(foreground, np.zeros_like(foreground)), (1.0, 1.0, 2.0), settings, [0])
    exact = np.exp(-geodesic_dijkstra(image[0], foreground, (1.0, 1.0, 2.0), 0.7) / 3.0)
    assert maps.shape == (2, 14, 12, 10) and maps.dtype == np.float32
    assert np.all(maps[1] == 0) and np.all(maps[0][foreground] == 1)
    # The sweep only overestimates distances; 4 sweeps leave them within 1e-3 here.
    assert np.all(maps[0] <= exact + 1e-6) and np.abs(maps[0] - exact).max() < 1e-3


def test_geodesic_settings_validate_and_round_trip():
    s = GeodesicSettings(("flair", "t2"), 0.5, 3, 2.0)
    assert GeodesicSettings.from_plain(s.to_plain()) == s
    assert s.channels(MODALITIES) == [0, 3]
    with pytest.raises(ValueError, match="t2"):
        s.channels(("flair", "t1"))
    with pytest.raises(ValueError, match="scale"):
        GeodesicSettings(scale=0.0)


class Recorder(torch.nn.Module):
    """A stand-in network: records its inputs and returns a fixed channel minus 0.5."""

    def __init__(self, channel: int, count_calls: list):
        super().__init__()
        self.channel, self.calls = channel, count_calls

    def forward(self, x):
        self.calls.append(x.detach().clone())
        return x[:, self.channel:self.channel + 1] - 0.5


def _method():
    pnet_calls, rnet_calls = [], []
    # P-Net "segments" FLAIR > 0.5 (the tumour); R-Net returns its foreground map - 0.5.
    method = DeepIGeoS(Recorder(0, pnet_calls), Recorder(5, rnet_calls), MODALITIES,
                       GeodesicSettings(lamb=0.9, scale=5.0), InferenceSettings(margin=0))
    return method, pnet_calls, rnet_calls


def test_round_zero_is_pnet_and_it_runs_once_per_image():
    case = tumour_case()
    method, pnet_calls, rnet_calls = _method()
    image = case.without_label()
    first = method.predict(image, EditHistory())
    assert method.name == TABLE_NAME and method.tools == {"selection", "brush"}
    assert np.array_equal(first, case.image[0] > 0.5) and len(pnet_calls) == 1 and not rnet_calls
    first_ms = method.last_forward_ms
    again = method.predict(image, EditHistory().add([Adjustment(0.2)]))  # no seeds: P-Net's again
    assert np.array_equal(again, first) and len(pnet_calls) == 1 and method.last_geodesic_ms == 0.0
    assert method.last_forward_ms == first_ms >= 0  # a reused mask reports what it cost: order-independent
    method.predict(dataclasses.replace(image, image=image.image.copy()), EditHistory())
    assert len(pnet_calls) == 2


def test_rnet_gets_modalities_proposal_and_both_maps():
    case = tumour_case()
    method, _, rnet_calls = _method()
    image = case.without_label()
    proposal = method.predict(image, EditHistory())
    history = EditHistory().add([Click((20, 18, 14), True)])
    refined = method.predict(image, history)
    (x,) = rnet_calls
    assert x.shape == (1, 7, *case.label.shape)
    assert torch.equal(x[0, :4], torch.from_numpy(case.image))
    assert torch.equal(x[0, 4].bool(), torch.from_numpy(proposal))
    assert x[0, 5, 20, 18, 14] == 1.0 and torch.all(x[0, 6] == 0)  # no background seeds
    # The foreground map is high inside the bright ball the click is in, low outside.
    assert refined[20, 18, 14] and refined[case.label].mean() > 0.9 and not refined[~case.label].any()
    assert method.last_forward_ms >= 0 and method.last_geodesic_ms > 0


def test_session_records_adjustments_as_unsupported():
    case = tumour_case()
    method, _, _ = _method()

    class User:
        name = "scripted"

        def propose(self, state, rng):
            return [Click((20, 18, 14), True), Adjustment(0.1)] if state.round == 1 else []

    result = run_session(case, method, User(), SessionConfig(max_rounds=2, hd95=False), np.random.default_rng(0))
    assert result.rounds[1].unsupported == "adjustment" and result.rounds[1].tools == "selection;adjustment"


TINY = dict(features=4, patch=(16, 16, 16), batch_size=1, pnet_epochs=1, rnet_epochs=1, steps_per_epoch=2,
            validate_every=1)


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    root = tmp_path_factory.mktemp("phantoms")
    synthesize(root, 3, (32, 32, 24), seed=0)
    return discover(root)


@pytest.mark.slow
def test_train_load_predict_and_resume(phantoms, tmp_path):
    out = tmp_path / "D.pt"
    pnet_file, rnet_file = train_deepigeos(phantoms, out, DeepIGeoSConfig(**TINY), progress=False)
    assert pnet_file == pnet_path(out) == tmp_path / "D.pnet.pt" and rnet_file == out
    p, r = load_checkpoint(pnet_file), load_checkpoint(rnet_file)
    assert (p.training["kind"], r.training["kind"]) == ("deepigeos-pnet", "deepigeos-rnet")
    assert p.inputs.channels == 4 and r.inputs.channels == 7 and p.split == r.split
    assert r.training["pnet_checkpoint"] == "D.pnet.pt" and r.training["geodesic"]["modalities"] == ["flair"]

    method = DeepIGeoS.from_checkpoint(out)
    assert isinstance(method.pnet, PNet) and isinstance(method.rnet, PNet)
    case = phantoms[0].load()
    pred = method.predict(case.without_label(), EditHistory().add([Click(tuple(np.argwhere(case.label)[0]), True)]))
    assert pred.shape == case.label.shape and pred.dtype == bool

    with pytest.raises(ValueError, match="--resume"):
        train_deepigeos(phantoms, out, DeepIGeoSConfig(**TINY), progress=False)
    with pytest.raises(ValueError, match="stale"):
        train_deepigeos(phantoms, out, DeepIGeoSConfig(**{**TINY, "pnet_epochs": 2}), resume=True, progress=False)
    train_deepigeos(phantoms, out, DeepIGeoSConfig(**{**TINY, "rnet_epochs": 2}), resume=True, progress=False)
    assert load_checkpoint(pnet_file).epoch == 1 and load_checkpoint(out).epoch == 2

    with pytest.raises(CheckpointError, match="not a DeepIGeoS R-Net"):
        DeepIGeoS.from_checkpoint(pnet_file)
    pnet_file.write_bytes(pnet_file.read_bytes() + b"\0")
    with pytest.raises(CheckpointError, match="SHA-256"):
        DeepIGeoS.from_checkpoint(out)


def test_config_presets_and_validation():
    paper = DeepIGeoSConfig.paper()
    assert (paper.features, paper.patch, paper.device) == (16, (96, 96, 96), "cuda")
    assert DeepIGeoSConfig.from_plain(DeepIGeoSConfig(lamb=0.5).to_plain()) == DeepIGeoSConfig(lamb=0.5)
    with pytest.raises(ValueError, match="multiple of 4"):
        DeepIGeoSConfig(features=6)
    with pytest.raises(ValueError, match="lamb"):
        DeepIGeoSConfig(lamb=2.0)
