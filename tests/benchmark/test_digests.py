import hashlib

from benchmark.digests import file_digest, folder_digest


def test_file_digest_is_sha256_of_the_bytes(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"\x00weights" * 200_000)
    assert file_digest(tmp_path / "w.pt") == hashlib.sha256(b"\x00weights" * 200_000).hexdigest()


def test_folder_digest_changes_with_any_file_name_or_content(tmp_path):
    model = tmp_path / "model"
    (model / "fold_0").mkdir(parents=True)
    (model / "plans.json").write_text("{}")
    (model / "fold_0" / "checkpoint_final.pth").write_bytes(b"abc")
    first = folder_digest(model)
    assert folder_digest(model) == first
    (model / "fold_0" / "checkpoint_final.pth").write_bytes(b"abd")
    changed = folder_digest(model)
    (model / "fold_0" / "checkpoint_final.pth").rename(model / "fold_0" / "checkpoint_best.pth")
    renamed = folder_digest(model)
    (model / "extra.json").write_text("{}")
    added = folder_digest(model)
    assert len({first, changed, renamed, added}) == 4
