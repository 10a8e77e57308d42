import shutil

from benchmark.fingerprint import code_state, data_digest, run_fingerprint

CONFIG = {"data": "/somewhere/data", "out": "/somewhere/out", "jobs": 2, "save_masks": False,
          "methods": ["manual-paint"], "users": ["multi"], "seed": 0, "session": {"max_rounds": 3},
          "method_options": {"device": "cpu", "threads": 4, "workdir": "/somewhere"}, "checkpoints": {}}


def data(tmp_path, name="data"):
    root = tmp_path / name
    (root / "c1").mkdir(parents=True)
    (root / "c1" / "c1_flair.nii.gz").write_bytes(b"flair")
    (root / "c1" / "c1_seg.nii.gz").write_bytes(b"seg")
    return root, sorted(root.rglob("*.nii.gz"))


def test_the_fingerprint_follows_settings_data_and_code_not_places_or_speeds(tmp_path):
    root, files = data(tmp_path)
    first = run_fingerprint(CONFIG, files, root)
    assert len(first["run_sha"]) == 16 and first["digest"].startswith(first["run_sha"]) and first["data_files"] == 2
    assert first["code"] == code_state() and set(first["code"]) == {"simedit", "git_commit", "git_dirty"}
    moved = {**CONFIG, "data": "/elsewhere", "out": "/elsewhere/out", "jobs": 1, "save_masks": True,
             "method_options": {"device": "cpu", "threads": 1, "workdir": "/elsewhere"}}
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    assert run_fingerprint(moved, sorted(copy.rglob("*.nii.gz")), copy)["digest"] == first["digest"]
    assert run_fingerprint({**CONFIG, "seed": 1}, files, root)["digest"] != first["digest"]
    assert run_fingerprint({**CONFIG, "method_options": {"device": "cuda"}}, files, root)["digest"] != first["digest"]
    (root / "c1" / "c1_seg.nii.gz").write_bytes(b"sef")
    changed = run_fingerprint(CONFIG, files, root)
    assert changed["data_sha"] != first["data_sha"] and changed["digest"] != first["digest"]


def test_the_data_digest_names_files_relative_to_the_data_folder(tmp_path):
    root, files = data(tmp_path)
    before = data_digest(files, root)
    (root / "c1" / "c1_seg.nii.gz").rename(root / "c1" / "c1_mask.nii.gz")
    assert data_digest(sorted(root.rglob("*.nii.gz")), root) != before
