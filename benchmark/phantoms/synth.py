"""Write a set of BraTS-like phantoms to disk in a real data-set layout."""

from __future__ import annotations

from pathlib import Path

from benchmark.io import LAYOUTS, write_case, write_dataset_json
from benchmark.phantoms.phantom import make_phantom, phantom_rng


def case_id(layout: str, index: int) -> str:
    """The layout's usual case naming, for the phantom with this index."""
    return {
        "brats2018": f"Brats18_SIM_{index:03d}_1",
        "brats2021": f"BraTS2021_{index:05d}",
        "brats2023": f"BraTS-GLI-{index:05d}-000",
        "msd": f"BRATS_{index:03d}",
        "nnunet": f"BRATS_{index:03d}",
    }[layout]


def _write_one(out: Path, layout: str, index: int, shape: tuple[int, int, int], seed: int) -> str:
    cid = case_id(layout, index)
    p = make_phantom(shape, phantom_rng(seed, index), case_id=cid)
    write_case(out, layout, cid, p.modalities, p.label, p.affine)
    return cid


def synthesize(out: Path | str, cases: int, shape: tuple[int, int, int], seed: int = 0,
               layout: str = "brats2018", jobs: int = 1, progress: bool = False) -> list[str]:
    """Generate ``cases`` phantoms into ``out``; same arguments, same bytes.

    Returns:
        the case ids written, in order.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if cases < 1:
        raise ValueError(f"--cases must be >= 1, got {cases}")
    if len(shape) != 3 or min(shape) < 16:
        raise ValueError(f"--shape must be three sizes of at least 16 voxels, got {tuple(shape)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    tasks = (delayed(_write_one)(out, layout, i, tuple(shape), seed) for i in range(cases))
    ids = list(tqdm(Parallel(n_jobs=jobs, return_as="generator")(tasks), total=cases,
                    disable=not progress, desc="phantoms", unit="case"))
    write_dataset_json(out, layout, ids)
    return ids
