import math
from dataclasses import replace

import pytest

from benchmark.results import (
    ROUND_COLUMNS,
    SESSION_COLUMNS,
    ROUNDS_FILE,
    SESSIONS_FILE,
    ResultsWriter,
    RoundRecord,
    SessionRecord,
    read_edits,
    read_rounds,
    read_sessions,
)


def rows(case, n):
    return [RoundRecord(case, "m", "u", r, 0.5 + 0.1 * r, float("nan") if r == 0 else 3.0, r, "" if r == 0 else "selection;brush",
                        "", 1.0, 2.0, 1.5, 10.0) for r in range(n)]


def ok(case, n):
    return SessionRecord(case, "m", "u", "ok", "user", n - 1, 0.5 + 0.1 * (n - 1), n - 1, 0.1)


def test_round_trip_and_resume(tmp_path):
    w = ResultsWriter(tmp_path)
    w.write(ok("a", 3), rows("a", 3), [{"case": "a", "method": "m", "user": "u", "round": 1, "edits": []}])
    w.write(SessionRecord("b", "m", "u", "failed", "", 0, math.nan, 0, 0.0, "InvalidCaseError: b_t1.nii.gz truncated"))
    df = read_rounds(tmp_path)
    assert list(df["round"]) == [0, 1, 2] and list(df["tools"]) == ["", "selection;brush", "selection;brush"]
    assert math.isnan(df["hd95"][0]) and df["dice"][2] == pytest.approx(0.7)
    assert ResultsWriter(tmp_path).finished() == {("a", "m", "u", 0)}  # the failed one is retried
    # a retried session that now succeeds replaces the failure
    w.write(ok("b", 2), rows("b", 2))
    s = read_sessions(tmp_path)
    assert set(s["status"]) == {"ok"} and len(s) == 2
    assert read_edits(tmp_path)[0]["case"] == "a"


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path):
    w = ResultsWriter(tmp_path)
    w.write(ok("a", 2), rows("a", 2))
    with open(tmp_path / ROUNDS_FILE, "a") as f:
        f.write("b,m,u,0,0.5,nan,0,,,1.0\n")  # too few fields
    (tmp_path / "edits.jsonl").write_text('{"case": "a"}\n{"cas')
    assert len(read_rounds(tmp_path)) == 2
    assert read_edits(tmp_path) == [{"case": "a", "user_seed": 0}]


def test_user_seeds_are_separate_sessions_and_older_tables_read_as_user_seed_0(tmp_path):
    w = ResultsWriter(tmp_path)
    for seed in (0, 1, 2):
        record = SessionRecord("a", "m", "u", "ok", "user", 1, 0.6, 1, 0.1, user_seed=seed)
        w.write(record, [replace(r, user_seed=seed) for r in rows("a", 2)])
    assert ResultsWriter(tmp_path).finished() == {("a", "m", "u", s) for s in (0, 1, 2)}
    rounds = read_rounds(tmp_path)
    assert len(rounds) == 6 and sorted(rounds.groupby("user_seed").size().items()) == [(0, 2), (1, 2), (2, 2)]
    old = tmp_path / "old"
    old.mkdir()
    columns = [c for c in ROUND_COLUMNS if c != "user_seed"]
    (old / ROUNDS_FILE).write_text(",".join(columns) + "\n" + ",".join(str(getattr(r, c)) for c in columns
                                                                    for r in rows("a", 1)) + "\n")
    old_sessions = [c for c in SESSION_COLUMNS if c != "user_seed"]
    (old / SESSIONS_FILE).write_text(",".join(old_sessions) + "\n" + ",".join(str(getattr(ok("a", 1), c))
                                                                           for c in old_sessions) + "\n")
    ResultsWriter(old)
    assert read_rounds(old).user_seed.tolist() == [0]


def test_foreign_table_is_refused(tmp_path):
    (tmp_path / SESSIONS_FILE).write_text("case,dice\n")
    with pytest.raises(ValueError, match="new folder"):
        ResultsWriter(tmp_path)


def test_a_rounds_file_of_an_older_version_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    added = ("nsd", "timed_out", "fixed", "broken", "fixed_ml", "broken_ml", "fp_ml", "fn_ml", "far_share", "reach_mm",
             "effort_s", "pred_sha", "run_sha", "user_seed")
    old_columns = [c for c in ROUND_COLUMNS if c not in added]
    assert list(ROUND_COLUMNS[:len(old_columns)]) == old_columns  # new columns come last
    records = rows("c1", 3)
    lines = [",".join(old_columns)] + [",".join(str(getattr(r, c)) for c in old_columns) for r in records]
    (tmp_path / "rounds.csv").write_text("\n".join(lines) + "\n" + "c1,m,u,9,0.")  # and a line cut short
    old_sessions = [c for c in SESSION_COLUMNS if c != "user_seed"]
    (tmp_path / SESSIONS_FILE).write_text(",".join(old_sessions) + "\n" + ",".join(str(getattr(ok("c1", 3), c))
                                                                                for c in old_sessions) + "\n")
    ResultsWriter(tmp_path)
    back = read_rounds(tmp_path)
    assert list(back.columns) == list(ROUND_COLUMNS) and len(back) == len(records)
    assert back.nsd.isna().all() and (back.timed_out == 0).all() and back.broken.isna().all()
    assert back.dice.tolist() == [r.dice for r in records]


def test_a_session_killed_before_its_session_row_leaves_nothing_behind_to_duplicate(tmp_path):
    w = ResultsWriter(tmp_path)
    w.write(ok("a", 2), rows("a", 2), [{"case": "a", "method": "m", "user": "u", "round": 1, "edits": []}])
    finished = {name: (tmp_path / name).read_text() for name in (ROUNDS_FILE, SESSIONS_FILE, "edits.jsonl")}
    # session b: its rounds and edits written, then the kill (no session row), and a line cut short
    (tmp_path / ROUNDS_FILE).write_text(finished[ROUNDS_FILE] + "".join(
        ",".join(str(getattr(r, c)) for c in ROUND_COLUMNS) + "\n" for r in rows("b", 2)) + "b,m,u,9,0.")
    (tmp_path / "edits.jsonl").write_text(finished["edits.jsonl"] + '{"case": "b", "method": "m", "user": "u", '
                                          '"round": 1, "edits": []}\n{"case": "b", "met')
    (tmp_path / SESSIONS_FILE).write_text(finished[SESSIONS_FILE] + "b,m,u,ok,us")
    again = ResultsWriter(tmp_path)
    assert {name: (tmp_path / name).read_text() for name in finished} == finished  # back to the finished sessions
    again.write(ok("b", 2), rows("b", 2), [{"case": "b", "method": "m", "user": "u", "round": 1, "edits": []}])
    rounds = (tmp_path / ROUNDS_FILE).read_text().splitlines()
    assert len(rounds) == 1 + 4 and len(set(rounds)) == len(rounds)
    assert [e["case"] for e in read_edits(tmp_path)] == ["a", "b"]
    assert ResultsWriter(tmp_path).finished() == {("a", "m", "u", 0), ("b", "m", "u", 0)}


def test_a_folder_of_an_older_simedit_reads_without_being_rewritten(tmp_path):
    old_rounds = [c for c in ROUND_COLUMNS if c != "user_seed"]
    text = ",".join(old_rounds) + "\n" + "".join(",".join(str(getattr(r, c)) for c in old_rounds) + "\n"
                                                 for r in rows("a", 3))
    (tmp_path / ROUNDS_FILE).write_text(text)
    back = read_rounds(tmp_path)
    assert len(back) == 3 and (back.user_seed == 0).all() and list(back.columns) == list(ROUND_COLUMNS)
    assert (tmp_path / ROUNDS_FILE).read_text() == text  # reading changes nothing on disk
