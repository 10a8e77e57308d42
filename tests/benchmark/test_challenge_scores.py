import math

import numpy as np
import pandas as pd
import pytest

from benchmark.challenge_scores import (
    CASES, DSC_AUC, DSC_FINAL, N_CARRIED, N_TIMED_OUT, NSD_AUC, NSD_FINAL, TOTAL_TIME, challenge_means, challenge_nsd,
    challenge_summary, challenge_table, step_columns)
from benchmark.metrics import dice
from benchmark.surfels import surfel_surface_dice
from tests.benchmark import challenge_port as port
from tests.benchmark.test_surfels import ball, blob, random_pair

# --- one step's NSD -------------------------------------------------------------------


def test_challenge_nsd_equals_the_ports_step_scores():
    rng = np.random.default_rng(3)
    low = 0
    for _ in range(40):
        pred, gt, spacing = random_pair(rng)
        if not gt.any():
            continue  # the challenge scores only labels present in the gt
        dsc, nsd = port.step_scores(gt.astype(np.uint8), pred.astype(np.uint8), spacing)
        assert dice(pred, gt) == pytest.approx(dsc, abs=1e-12)
        assert challenge_nsd(dice(pred, gt), pred, gt, spacing) == pytest.approx(nsd, abs=1e-9)
        low += dsc <= 0.2
    assert low >= 3  # the DSC <= 0.2 rule was exercised


def test_challenge_nsd_rule_and_empty_masks():
    shape, spacing = (20, 20, 20), (1.0, 1.0, 2.0)
    gt = ball(shape, (10, 10, 10), 5.0, spacing)
    pred = ball(shape, (11, 10, 10), 5.0, spacing)
    surfel = surfel_surface_dice(pred, gt, spacing, 2.0)
    assert challenge_nsd(0.21, pred, gt, spacing) == surfel > 0.9
    assert challenge_nsd(0.2, pred, gt, spacing) == 0.0  # NSD only when DSC > 0.2
    assert challenge_nsd(float("nan"), pred, gt, spacing) == 0.0  # the challenge's DSC of two empty masks
    assert challenge_nsd(0.9, pred, gt, spacing, tolerance_mm=0.5) == surfel_surface_dice(pred, gt, spacing, 0.5)
    empty = np.zeros(shape, bool)
    assert challenge_nsd(dice(empty, gt), empty, gt, spacing) == 0.0
    assert math.isnan(challenge_nsd(dice(empty, empty), empty, empty, spacing))  # simedit's dice: 1.0
    with pytest.raises(TypeError, match="bool"):
        challenge_nsd(0.0, pred.astype(int), gt, spacing)


# --- a case's summary -----------------------------------------------------------------


def test_summary_by_hand():
    dscs = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    nsds = [0.0, 0.3, 0.5, 0.5, 0.9, 0.95]
    s = challenge_summary(dscs, nsds)
    # the last five steps at x = 0..4: (0.6+0.7)/2 + (0.7+0.8)/2 + (0.8+0.9)/2 + (0.9+1.0)/2
    assert s[DSC_AUC] == pytest.approx(0.65 + 0.75 + 0.85 + 0.95, abs=1e-12)  # 3.2; the box step's 0.5 is out
    assert s[NSD_AUC] == pytest.approx(0.4 + 0.5 + 0.7 + 0.925, abs=1e-12)
    assert (s[DSC_FINAL], s[NSD_FINAL]) == (1.0, 0.95)
    assert challenge_summary([1.0] * 6, [1.0] * 6)[DSC_AUC] == 4.0  # the most it can be
    assert challenge_summary([0.2, 0.4, 0.8], [0.0, 0.0, 0.0], n_clicks=2)[DSC_AUC] == pytest.approx(0.6)
    assert all(type(v) is float for v in s.values())


def test_summary_equals_the_port():
    rng = np.random.default_rng(4)
    for n_clicks in (2, 5, 7):
        for _ in range(10):
            dscs, nsds = rng.random(n_clicks + 1), rng.random(n_clicks + 1)
            ours, theirs = challenge_summary(dscs, nsds, n_clicks), port.case_summary(list(dscs), list(nsds), n_clicks)
            assert ours == pytest.approx(theirs, abs=1e-12)


def test_summary_validates():
    with pytest.raises(ValueError, match="at least 5 finite"):
        challenge_summary([0.5] * 4, [0.5] * 4)
    with pytest.raises(ValueError, match="nsd_steps must be at least 5 finite"):
        challenge_summary([0.5] * 6, [0.5] * 5 + [float("nan")])
    with pytest.raises(ValueError, match="one value per step"):
        challenge_summary([0.5] * 6, [0.5] * 5)
    with pytest.raises(ValueError, match="n_clicks must be an integer >= 2"):
        challenge_summary([0.5] * 6, [0.5] * 6, n_clicks=1)


# --- tables from rounds.csv -----------------------------------------------------------


def rows(case, method, user, curve, nsd=None, ms=None, timed_out=None, round0=(0.05, 0.0)):
    """rounds.csv rows of one session: round 0 then rounds 1.. with the given Dice."""
    n = len(curve)
    nsd = nsd or [d - 0.1 for d in curve]
    ms = ms or [1000.0 * (r + 1) for r in range(n)]
    timed_out = timed_out or [0] * n
    out = [dict(case=case, method=method, user=user, round=0, dice=round0[0], nsd=round0[1], model_ms=9999.0,
                timed_out=1, hd95=float("nan"))]
    out += [dict(case=case, method=method, user=user, round=r + 1, dice=curve[r], nsd=nsd[r], model_ms=ms[r],
                 timed_out=timed_out[r], hd95=float("nan")) for r in range(n)]
    return out


@pytest.fixture
def rounds():
    return pd.DataFrame(
        rows("c1", "m", "cvpr25", [0.5, 0.6, 0.7, 0.8, 0.9, 0.95], timed_out=[0, 1, 0, 0, 1, 0])
        + rows("c2", "m", "cvpr25", [0.8, 0.9, 1.0])  # stopped after round 3: nothing left to fix
        + rows("c1", "other", "cvpr25", [0.1, 0.3, 0.3, 0.4, 0.5, 0.6]))


def test_table_columns_and_values(rounds):
    table = challenge_table(rounds)
    dsc_cols, nsd_cols, time_cols = step_columns()
    assert list(table.columns) == ["method", "user", "case", *dsc_cols, *nsd_cols, *time_cols, TOTAL_TIME,
                                   DSC_AUC, NSD_AUC, DSC_FINAL, NSD_FINAL, N_TIMED_OUT, N_CARRIED]
    assert dsc_cols == [f"DSC_{k}" for k in range(1, 7)] and time_cols[0] == "RunningTime_1"
    assert list(zip(table["method"], table["case"])) == [("m", "c1"), ("m", "c2"), ("other", "c1")]
    full = table.iloc[0]
    assert list(full[dsc_cols]) == [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]  # round 0 is no step
    assert list(full[time_cols]) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and full[TOTAL_TIME] == 21.0
    assert full[DSC_AUC] == pytest.approx(0.65 + 0.75 + 0.85 + 0.925)
    assert full[NSD_AUC] == pytest.approx(0.65 + 0.75 + 0.85 + 0.925 - 0.4)
    assert (full[DSC_FINAL], full[NSD_FINAL]) == (0.95, pytest.approx(0.85))
    assert full[N_TIMED_OUT] == 2 and full[N_CARRIED] == 0  # round 0's time-out is not a step's


def test_table_carries_a_stopped_session_forward(rounds):
    table = challenge_table(rounds)
    dsc_cols, nsd_cols, time_cols = step_columns()
    short = table.iloc[1]
    assert list(short[dsc_cols]) == [0.8, 0.9, 1.0, 1.0, 1.0, 1.0]
    assert list(short[nsd_cols]) == pytest.approx([0.7, 0.8, 0.9, 0.9, 0.9, 0.9])
    assert list(short[time_cols]) == [1.0, 2.0, 3.0, 0.0, 0.0, 0.0] and short[TOTAL_TIME] == 6.0
    assert short[DSC_AUC] == pytest.approx((0.9 + 1.0) / 2 + 1.0 + 1.0 + 1.0)
    assert (short[DSC_FINAL], short[N_CARRIED], short[N_TIMED_OUT]) == (1.0, 3, 0)
    for _, row in table.iterrows():  # the summary columns are challenge_summary's
        summary = challenge_summary(list(row[dsc_cols]), list(row[nsd_cols]))
        assert {k: row[k] for k in summary} == pytest.approx(summary)


def test_table_without_timed_out_with_nan_nsd_and_other_clicks(rounds):
    table = challenge_table(rounds.drop(columns="timed_out").assign(nsd=float("nan")))
    assert table[N_TIMED_OUT].tolist() == [0, 0, 0]
    assert table[NSD_AUC].isna().all() and table[DSC_AUC].notna().all()
    three = challenge_table(rounds[rounds["round"] <= 3], n_clicks=2)
    assert three["DSC_3"].tolist() == [0.7, 1.0, 0.3] and "DSC_4" not in three
    assert three[DSC_AUC].tolist() == pytest.approx([0.65, 0.95, 0.3])
    assert challenge_table(rounds.iloc[:0]).shape == (0, len(table.columns))


def test_table_rejects_what_the_challenge_cannot_score(rounds):
    with pytest.raises(ValueError, match=r"lacks the columns \['model_ms'\]"):
        challenge_table(rounds.drop(columns="model_ms"))
    with pytest.raises(ValueError, match="round 7, beyond the challenge's 6 steps.*n_clicks=6"):
        challenge_table(pd.concat([rounds, pd.DataFrame(rows("c3", "m", "u", [0.5] * 7))]))
    with pytest.raises(ValueError, match="case='c3'.*no round 1"):
        challenge_table(pd.concat([rounds, pd.DataFrame(rows("c3", "m", "u", []))]))
    gap = pd.DataFrame(rows("c3", "m", "u", [0.5, 0.6, 0.7]))
    with pytest.raises(ValueError, match="case='c3'.*lacks rounds between 1 and its last"):
        challenge_table(pd.concat([rounds, gap[gap["round"] != 2]]))
    with pytest.raises(ValueError, match="round 2 twice"):
        challenge_table(pd.concat([rounds, rounds[rounds["round"] == 2]]))


def test_means_per_method_and_user(rounds):
    means = challenge_means(challenge_table(rounds))
    assert list(means.columns[:7]) == ["method", "user", CASES, DSC_AUC, NSD_AUC, DSC_FINAL, NSD_FINAL]
    m = means.iloc[0]
    assert (m["method"], m[CASES], m[N_TIMED_OUT]) == ("m", 2, 2)
    assert m[DSC_FINAL] == pytest.approx((0.95 + 1.0) / 2)
    assert m["DSC_4"] == pytest.approx((0.8 + 1.0) / 2) and m["RunningTime_6"] == pytest.approx(3.0)
    assert m[TOTAL_TIME] == pytest.approx((21.0 + 6.0) / 2)
    assert means.iloc[1][CASES] == 1
    nan_nsd = challenge_means(challenge_table(rounds.assign(nsd=float("nan"))))
    assert nan_nsd[NSD_AUC].isna().all() and nan_nsd[DSC_AUC].notna().all()  # a missing NSD is not skipped
    with pytest.raises(ValueError, match="lacks the columns"):
        challenge_means(challenge_table(rounds).drop(columns=DSC_AUC))


def test_a_whole_session_against_the_port():
    """Six steps of masks scored through simedit's rounds give the challenge's per-case metrics."""
    rng = np.random.default_rng(7)
    shape, spacing = (24, 22, 16), (0.8, 0.8, 2.0)
    gt = blob(rng, shape, fill=0.2, sigma=2.0)
    preds = [blob(rng, shape, fill=0.1, sigma=2.0)]  # a poor box step
    for _ in range(5):  # each click fixes a share of the errors
        preds.append(np.where(rng.random(shape) < 0.4, gt, preds[-1]))
    scored = [port.step_scores(gt.astype(np.uint8), p.astype(np.uint8), spacing) for p in preds]
    expected = port.case_summary([d for d, _ in scored], [n for _, n in scored])
    records = [dict(case="c", method="m", user="cvpr25", round=k + 1, dice=dice(p, gt), model_ms=10.0,
                    nsd=challenge_nsd(dice(p, gt), p, gt, spacing)) for k, p in enumerate(preds)]
    row = challenge_table(pd.DataFrame(records)).iloc[0]
    assert {k: row[k] for k in expected} == pytest.approx(expected, abs=1e-9)
    assert row["NSD_1"] == scored[0][1] and row[TOTAL_TIME] == pytest.approx(0.06)
