"""Where a data set keeps its files and what its label values mean; no voxel data.

Five folder layouts are understood (names as in :data:`LAYOUTS`):

- ``brats2018`` / ``brats2021``: ``<root>/[HGG|LGG/]<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz``;
  labels 0, 1 necrosis/non-enhancing, 2 oedema, 4 enhancing.
- ``brats2023``: ``<root>/<case>/<case>-{t2f,t1n,t1c,t2w,seg}.nii.gz``; labels 0, 1, 2, 3.
- ``msd`` (Task01_BrainTumour): ``<root>/dataset.json``, ``imagesTr/<case>.nii.gz`` 4D with
  channels FLAIR, T1w, T1gd, T2w, ``labelsTr/<case>.nii.gz``; labels 0, 1 oedema,
  2 non-enhancing, 3 enhancing.
- ``nnunet`` (nnU-Net v2 raw): ``<root>/dataset.json``, ``imagesTr/<case>_<XXXX><ending>``,
  ``labelsTr/<case><ending>``; labels and channel names from dataset.json.

Every layout accepts ``.nii.gz`` and ``.nii``. Whole tumour is every label value > 0.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from benchmark.case import InvalidCaseError
from benchmark.names import unknown_name

LAYOUTS: tuple[str, ...] = ("brats2018", "brats2021", "brats2023", "msd", "nnunet")

#: simedit's modality names, in the channel order of every layout but nnunet's.
MODALITIES: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")

#: Allowed label values per layout (nnunet: the default; dataset.json may say otherwise).
LABEL_VALUES: dict[str, tuple[int, ...]] = {
    "brats2018": (0, 1, 2, 4),
    "brats2021": (0, 1, 2, 4),
    "brats2023": (0, 1, 2, 3),
    "msd": (0, 1, 2, 3),
    "nnunet": (0, 1, 2, 3),
}

#: How BraTS 2018 labels (0 bg, 1 necrosis/non-enhancing, 2 oedema, 4 enhancing) are
#: renumbered in each layout; values not listed stay as they are.
FROM_BRATS2018: dict[str, dict[int, int]] = {
    "brats2018": {},
    "brats2021": {},
    "brats2023": {4: 3},
    "msd": {2: 1, 1: 2, 4: 3},
    "nnunet": {2: 1, 1: 2, 4: 3},
}

#: File-name suffix of each modality in the BraTS layouts, in MODALITIES order.
BRATS_SUFFIXES: dict[str, tuple[str, ...]] = {
    "brats2018": MODALITIES,
    "brats2021": MODALITIES,
    "brats2023": ("t2f", "t1n", "t1c", "t2w"),
}
_BRATS_SEPARATOR = {"brats2018": "_", "brats2021": "_", "brats2023": "-"}
_GRADE_FOLDERS = ("HGG", "LGG")
_EXTENSIONS = (".nii.gz", ".nii")

#: Channel names used by MSD, nnU-Net and BraTS data sets, lower-cased, mapped to MODALITIES.
_CHANNEL_ALIASES = {
    "flair": "flair", "t2f": "flair", "t2-flair": "flair", "t2flair": "flair",
    "t1": "t1", "t1w": "t1", "t1n": "t1",
    "t1ce": "t1ce", "t1gd": "t1ce", "t1c": "t1ce", "t1-gd": "t1ce", "t1+c": "t1ce",
    "t2": "t2", "t2w": "t2",
}  # fmt: skip

# The channel names and labels that write_dataset_json records (nnunet: as nnU-Net's own
# BraTS conversion does, with regions for whole tumour, tumour core, enhancing tumour).
_MSD_MODALITY = {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}
_MSD_LABELS = {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"}
_NNUNET_CHANNELS = {"0": "FLAIR", "1": "T1", "2": "T1ce", "3": "T2"}
_NNUNET_LABELS = {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": [3]}


def check_layout(layout: str) -> str:
    """Return ``layout`` if it is one of LAYOUTS; otherwise raise, suggesting the closest."""
    if layout in LAYOUTS:
        return layout
    raise ValueError(unknown_name("layout", layout, LAYOUTS))


def modality_name(channel_name: str) -> str:
    """simedit's name for a data set's channel name (FLAIR -> flair, T1Gd -> t1ce, ...)."""
    return _CHANNEL_ALIASES.get(channel_name.strip().lower(), channel_name)


def nifti_file(base: Path) -> Path:
    """``base`` + ``.nii.gz``, or ``.nii`` where only that exists (the expected path if neither)."""
    for extension in _EXTENSIONS:
        path = base.with_name(base.name + extension)
        if path.is_file():
            return path
    return base.with_name(base.name + _EXTENSIONS[0])


def _is_hidden(name: str) -> bool:
    return name.startswith(".")  # includes macOS "._" resource forks


# --- the BraTS layouts -----------------------------------------------------------------


def brats_files(folder: Path, layout: str) -> tuple[tuple[Path, ...], Path]:
    """(image paths in MODALITIES order, label path) of one BraTS case folder."""
    separator = _BRATS_SEPARATOR[layout]
    images = tuple(nifti_file(folder / f"{folder.name}{separator}{s}") for s in BRATS_SUFFIXES[layout])
    return images, nifti_file(folder / f"{folder.name}{separator}seg")


def _looks_like_brats_case(folder: Path, layout: str) -> bool:
    separator = _BRATS_SEPARATOR[layout]
    names = {f"{folder.name}{separator}{s}{e}" for s in (*BRATS_SUFFIXES[layout], "seg") for e in _EXTENSIONS}
    return any(entry.name in names for entry in folder.iterdir())


def _subfolders(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir() and not _is_hidden(p.name)]


def brats_case_folders(root: Path, layout: str) -> list[Path]:
    """Case folders of a BraTS layout under ``root`` (and under HGG/, LGG/ where present).

    A folder counts as a case when it holds at least one file named after it in the
    layout's convention; files that are missing surface when the case is loaded.
    """
    candidates = _subfolders(root)
    for grade in _GRADE_FOLDERS:
        if (root / grade).is_dir():
            candidates += _subfolders(root / grade)
    return [folder for folder in candidates if _looks_like_brats_case(folder, layout)]


# --- the dataset.json layouts ----------------------------------------------------------


def read_dataset_json(root: Path) -> dict:
    """The parsed ``<root>/dataset.json``; raises InvalidCaseError if absent or not JSON."""
    path = root / "dataset.json"
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidCaseError(f"{path}: not found; MSD and nnU-Net layouts need their dataset.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidCaseError(f"{path}: cannot read JSON ({error}); restore the data set's dataset.json") from error
    if not isinstance(content, dict):
        raise InvalidCaseError(f"{path}: expected a JSON object at the top level; restore the data set's dataset.json")
    return content


def _nnunet_field(path: Path, content: dict, key: str, kind: type):
    value = content.get(key)
    if not isinstance(value, kind):
        raise InvalidCaseError(
            f"{path}: {key!r} is missing or not a {kind.__name__}; nnU-Net v2 needs channel_names, labels and file_ending"
        )
    return value


def nnunet_channels(root: Path, content: dict) -> tuple[tuple[str, ...], tuple[int, ...], str]:
    """(modality names in channel order, allowed label values, file ending) from dataset.json.

    Label values may be ints or, for region-based training, lists of ints: the allowed
    set is their union.
    """
    path = root / "dataset.json"
    channels = _nnunet_field(path, content, "channel_names", dict)
    labels = _nnunet_field(path, content, "labels", dict)
    ending = _nnunet_field(path, content, "file_ending", str)
    if ending not in _EXTENSIONS:
        raise InvalidCaseError(f"{path}: file_ending {ending!r} is not NIfTI; simedit reads .nii.gz or .nii")
    try:
        order = sorted(channels, key=int)
        values = set()
        for value in labels.values():
            values.update(value if isinstance(value, list) else [value])
        allowed = tuple(sorted({int(v) for v in values} | {0}))
    except (TypeError, ValueError) as error:
        raise InvalidCaseError(
            f"{path}: channel_names keys and label values must be integers ({error}); fix dataset.json"
        ) from error
    if order != [str(i) for i in range(len(order))]:
        raise InvalidCaseError(f"{path}: channel_names keys must be 0..{len(order) - 1}, got {order}; fix dataset.json")
    return tuple(modality_name(channels[key]) for key in order), allowed, ending


def image_files(root: Path) -> list[Path]:
    """NIfTI files in ``<root>/imagesTr``, without hidden and ``._`` files."""
    folder = root / "imagesTr"
    if not folder.is_dir():
        raise InvalidCaseError(f"{folder}: folder not found; MSD and nnU-Net layouts keep their images there")
    return [p for p in folder.iterdir() if p.name.endswith(_EXTENSIONS) and not _is_hidden(p.name)]


def nnunet_case_ids(files: list[Path], ending: str) -> list[str]:
    """Case identifiers from ``<case>_<XXXX><ending>`` file names."""
    pattern = re.compile(rf"(.+)_\d{{4}}{re.escape(ending)}")
    return sorted({m.group(1) for m in map(pattern.fullmatch, (p.name for p in files)) if m})


def stem(path: Path) -> str:
    """The file name without .nii.gz / .nii."""
    for extension in _EXTENSIONS:
        if path.name.endswith(extension):
            return path.name[: -len(extension)]
    return path.stem


# --- detection ------------------------------------------------------------------------


def detect_layout(root: Path) -> str:
    """The layout of the data folder ``root``; raises InvalidCaseError saying what was looked for."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidCaseError(f"{root}: not a folder; pass the folder that holds the data set")
    if (root / "dataset.json").is_file() or (root / "imagesTr").is_dir():
        content = read_dataset_json(root)
        if "channel_names" in content:
            return "nnunet"
        if "modality" in content:
            return "msd"
        raise InvalidCaseError(
            f"{root / 'dataset.json'}: has neither 'channel_names' (nnU-Net v2) nor 'modality' (MSD); "
            "fix it or pass the layout explicitly"
        )
    found = [layout for layout in ("brats2021", "brats2023") if brats_case_folders(root, layout)]
    if found == ["brats2021"]:
        brats18 = any((root / g).is_dir() for g in _GRADE_FOLDERS) or any(
            p.name.lower().startswith("brats18") for p in _subfolders(root)
        )
        return "brats2018" if brats18 else "brats2021"
    if found == ["brats2023"]:
        return "brats2023"
    if found:
        raise InvalidCaseError(
            f"{root}: holds case folders of both brats2021 and brats2023 naming; pass the layout explicitly"
        )
    raise InvalidCaseError(
        f"{root}: no recognisable layout; looked for dataset.json with imagesTr/ (msd, nnunet), "
        "case folders <case>/<case>_{flair,t1,t1ce,t2,seg}.nii[.gz], optionally under HGG/ or LGG/ "
        "(brats2018, brats2021), and <case>/<case>-{t2f,t1n,t1c,t2w,seg}.nii[.gz] (brats2023)"
    )


# --- writing --------------------------------------------------------------------------


def case_file_paths(root: Path, layout: str, case_id: str) -> tuple[tuple[Path, ...], Path]:
    """(image paths, label path) that :func:`benchmark.io.writing.write_case` writes, as .nii.gz."""
    check_layout(layout)
    if layout in BRATS_SUFFIXES:
        folder, separator = root / case_id, _BRATS_SEPARATOR[layout]
        images = tuple(folder / f"{case_id}{separator}{s}.nii.gz" for s in BRATS_SUFFIXES[layout])
        return images, folder / f"{case_id}{separator}seg.nii.gz"
    label = root / "labelsTr" / f"{case_id}.nii.gz"
    if layout == "msd":
        return (root / "imagesTr" / f"{case_id}.nii.gz",), label
    return tuple(root / "imagesTr" / f"{case_id}_{i:04d}.nii.gz" for i in range(len(MODALITIES))), label


def relabel_from_brats2018(label: np.ndarray, layout: str) -> np.ndarray:
    """uint8 [X, Y, Z] in ``layout``'s convention from BraTS 2018 labels (same shape)."""
    table = np.arange(256, dtype=np.uint8)
    for old, new in FROM_BRATS2018[check_layout(layout)].items():
        table[old] = new
    return table[label]


def write_dataset_json(root: Path, layout: str, case_ids: list[str]) -> Path | None:
    """Write ``<root>/dataset.json`` for the msd and nnunet layouts; None for BraTS layouts.

    The cases are those written by write_case in the same layout; the file is byte-for-byte
    the same for the same arguments.
    """
    root = Path(root)
    if check_layout(layout) in BRATS_SUFFIXES:
        return None
    ids = sorted(case_ids)
    if layout == "msd":
        content = {
            "name": "BRATS",
            "description": "Gliomas segmentation tumour and oedema in brain images",
            "tensorImageSize": "4D",
            "modality": _MSD_MODALITY,
            "labels": _MSD_LABELS,
            "numTraining": len(ids),
            "numTest": 0,
            "training": [{"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"} for c in ids],
            "test": [],
        }
    else:
        content = {
            "channel_names": _NNUNET_CHANNELS,
            "labels": _NNUNET_LABELS,
            "regions_class_order": [1, 2, 3],
            "numTraining": len(ids),
            "file_ending": ".nii.gz",
        }
    path = root / "dataset.json"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return path
