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


def test_mask_digest_tells_masks_apart_by_any_voxel_and_by_shape():
    import numpy as np

    from benchmark.digests import mask_digest

    rng = np.random.default_rng(0)
    mask = rng.random((7, 9, 5)) > 0.5
    assert mask_digest(mask) == mask_digest(mask.copy()) == mask_digest(np.asfortranarray(mask))
    seen = {mask_digest(mask)}
    for index in [(0, 0, 0), (6, 8, 4), (3, 4, 2)]:
        flipped = mask.copy()
        flipped[index] = ~flipped[index]
        seen.add(mask_digest(flipped))
    empty = np.zeros((8, 8, 8), bool)
    seen |= {mask_digest(empty), mask_digest(np.zeros((4, 16, 8), bool)), mask_digest(np.zeros((8, 8, 7), bool))}
    assert len(seen) == 7 and all(len(d) == 16 for d in seen)
    # the digest is SHA-256 of the shape and the bits, as documented: an independent computation
    expected = hashlib.sha256(repr((7, 9, 5)).encode() + np.packbits(mask.ravel()).tobytes()).hexdigest()[:16]
    assert mask_digest(mask) == expected
    try:
        mask_digest(mask.astype(np.uint8))
    except ValueError as error:
        assert "bool mask" in str(error)
    else:
        raise AssertionError("a uint8 array was digested as a mask")
