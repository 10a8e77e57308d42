"""Geodesic distance transform of user seeds by raster scans, in PyTorch (CPU or CUDA).

DeepIGeoS (Wang et al., TPAMI 2018) feeds its refinement network the geodesic distance
of every voxel to the user's foreground and background seeds. A path between
26-neighbours p and q costs

    sqrt((1 - lamb) * d(p, q)^2 + lamb * |I(p) - I(q)|^2)

with d the spatial step in mm (voxel spacing honoured) and |.| the Euclidean norm over the
image channels: the generalised form of GeodisTK and FastGeodis. lamb = 0 gives the
spatial 26-neighbour (chamfer) distance, lamb = 1 the pure intensity geodesic.

One iteration sweeps each axis forward, then backward, a plane at a time: every voxel of
a plane takes the minimum over all 9 of its neighbours in the plane just visited (the
whole 3x3 block, so the six passes together cover the full 26-neighbourhood; GeodisTK
leaves 4 of them out and converges more slowly). Work is vectorised over the plane and
the seed maps; Python loops only over planes. The forward pass of an axis computes the
step costs into a buffer that its backward pass reuses. Memory: about 9 + 3B + 2C float32
volumes (B seed sets, C channels), allocated once per call: on CPU, first touching fresh
memory costs as much as the arithmetic done in it.

On CPU the scan runs on one intra-op thread (restored afterwards): its kernels are a
plane each, and on this project's shared 2-core machine two threads gained at best 1.35x
when idle but ran 2.4-12x slower whenever other processes were busy.

Accuracy against exact Dijkstra on the same graph (baselines/geodesic/dijkstra.py) is
stated and asserted in tests/baselines/geodesic/test_transform.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch


def geodesic_distance(image: torch.Tensor, seeds: torch.Tensor,
                      spacing: Sequence[float] = (1.0, 1.0, 1.0), lamb: float = 1.0,
                      iterations: int = 2) -> torch.Tensor:
    """Geodesic distance from every voxel to the nearest seed voxel.

    Args:
        image: float [C, X, Y, Z] or [X, Y, Z], finite; the channels whose differences
            make up the intensity term.
        seeds: bool [X, Y, Z], or [B, X, Y, Z] for B seed sets over the same image (for
            example foreground and background: one call shares the step costs and is
            faster than B calls), on the same device as ``image``.
        spacing: voxel size in mm along X, Y, Z.
        lamb: weight of the intensity term in [0, 1].
        iterations: number of full sweeps (forward and backward along each axis), >= 1.

    Returns:
        float32 with the shape of ``seeds``, on the inputs' device: 0 at seeds, and +inf
        everywhere for a seed set with no voxels (the distance to an empty set), so that
        a round without background seeds needs no special case here.
    """
    image, seed_sets = _validated(image, seeds, spacing, lamb, iterations)
    with _one_cpu_thread(image.device):
        distance = _raster_scan(image, seed_sets, spacing, lamb, iterations)
    return distance.reshape(seeds.shape)


def _raster_scan(image: torch.Tensor, seeds: torch.Tensor, spacing: Sequence[float],
                 lamb: float, iterations: int) -> torch.Tensor:
    """image: float [C, X, Y, Z]; seeds: bool [B, X, Y, Z]. Returns float32 [B, X, Y, Z]."""
    (b, x, y, z), c = seeds.shape, image.shape[0]
    # Volumes padded by one voxel, +inf distance and zero intensity on the border, so
    # that the 3x3 neighbours of every voxel of any plane are a strided view and the
    # border never wins a minimum.
    distance = torch.full((b, x + 2, y + 2, z + 2), math.inf, dtype=torch.float32,
                          device=seeds.device)
    distance[:, 1:-1, 1:-1, 1:-1].masked_fill_(seeds, 0.0)
    intensity = torch.zeros((c, x + 2, y + 2, z + 2), dtype=torch.float32, device=seeds.device)
    torch.mul(image, math.sqrt(lamb), out=intensity[:, 1:-1, 1:-1, 1:-1])
    # Planes across Z would be strided gathers: the Z sweeps run on Z-major copies.
    distance_z = distance.new_empty((z + 2, b, x + 2, y + 2))
    intensity_z = _to_z_major(intensity, intensity.new_empty((z + 2, c, x + 2, y + 2)))
    edge = intensity.new_empty(9 * x * y * z)
    step_x, step_y, step_z = (_squared_steps(spacing, axis, 1.0 - lamb) for axis in range(3))
    for _ in range(iterations):
        _sweep(distance.permute(1, 0, 2, 3)[1:-1], intensity.permute(1, 0, 2, 3)[1:-1],
               step_x, edge)
        _sweep(distance.permute(2, 0, 1, 3)[1:-1], intensity.permute(2, 0, 1, 3)[1:-1],
               step_y, edge)
        _to_z_major(distance, distance_z)
        _sweep(distance_z[1:-1], intensity_z[1:-1], step_z, edge)
        distance.permute(3, 0, 1, 2).copy_(distance_z)
    return distance[:, 1:-1, 1:-1, 1:-1].contiguous()


def _to_z_major(volume: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Copy volume [K, X, Y, Z] into out [Z, K, X, Y] and return it. One X slab at a time:
    the whole permuted copy at once ran ~3.5x slower on CPU (cache misses)."""
    for i in range(volume.shape[1]):
        out[:, :, i].copy_(volume[:, i].permute(2, 0, 1))
    return out


def _squared_steps(spacing: Sequence[float], axis: int, spatial_weight: float) -> torch.Tensor:
    """float32 [3, 3, 1, 1]: spatial_weight x squared length (mm) of the step from a voxel
    to its neighbour at in-plane offset (a-1, b-1) in the next plane along ``axis``; the
    in-plane axes are the other two, in order."""
    along, *across = (float(spacing[axis]), *(float(spacing[a]) for a in range(3) if a != axis))
    offsets = torch.arange(-1.0, 2.0, dtype=torch.float32)
    squared = along**2 + (offsets[:, None] * across[0]) ** 2 + (offsets[None, :] * across[1]) ** 2
    return (spatial_weight * squared)[:, :, None, None]


def _sweep(dist: torch.Tensor, img: torch.Tensor, step2: torch.Tensor,
           edge_buffer: torch.Tensor) -> None:
    """One forward and one backward pass over the planes of ``dist``, in place.

    dist: float32 [N, B, U+2, V+2] and img: float32 [N, C, U+2, V+2], views (any strides)
    of padded volumes, plane-major along the swept axis; step2 as _squared_steps gives;
    edge_buffer: flat float32 work space of at least 9 N U V elements.
    """
    n, b, p, q = dist.shape
    c, u, v = img.shape[1], p - 2, q - 2
    step2 = step2.to(dist.device)
    # edge[i, a, b, u, v]: cost of the step from interior voxel (u, v) of plane i to
    # (u+a-1, v+b-1) of plane i+1. The forward pass fills it, the backward reuses it.
    edge = edge_buffer[:9 * (n - 1) * u * v].view(n - 1, 3, 3, u, v)
    # Per-plane work buffers: reused, as fresh allocations cost more than the arithmetic.
    diff = img.new_empty((3, 3, c, u, v))
    tails = dist.new_full((3, 3, b, p, q), math.inf)  # its border is never written
    candidates = dist.new_empty((3, 3, b, u, v))
    rows = dist.new_empty((3, b, u, v))
    best = dist.new_empty((b, u, v))

    def neighbours(plane: torch.Tensor) -> torch.Tensor:
        """[K, P, Q] -> [3, 3, K, U, V] view: [a, b, k, u, v] = plane[k, u+a, v+b], the
        3x3 block around each interior voxel."""
        s_k, s_p, s_q = plane.stride()
        return plane.as_strided((3, 3, plane.shape[0], u, v), (s_p, s_q, s_k, s_p, s_q),
                                plane.storage_offset())

    # Inside `tails` [3, 3, B, P, Q] (contiguous), the value on the edge that leaves along
    # offset (a-1, b-1) and arrives at interior voxel (u, v) sits at
    # [a, b, k, u+2-a, v+2-b]: a strided view with positive strides.
    s_a, s_b = tails.stride()[:2]
    arriving = tails.as_strided((3, 3, b, u, v), (s_a - q, s_b - 1, p * q, q, 1), 2 * q + 2)

    for i in range(n - 1):  # forward: plane i+1 from plane i
        cost = edge[i]
        torch.sub(neighbours(img[i + 1]), img[i, :, 1:-1, 1:-1], out=diff)
        torch.addcmul(step2, diff[:, :, 0], diff[:, :, 0], out=cost)
        for k in range(1, c):
            cost.addcmul_(diff[:, :, k], diff[:, :, k])
        cost.sqrt_()
        torch.add(dist[i, :, 1:-1, 1:-1], cost[:, :, None], out=tails[..., 1:-1, 1:-1])
        # A min tree: torch.amin over this view's two leading dims is ~20x slower.
        torch.minimum(arriving[0], arriving[1], out=rows)
        torch.minimum(rows, arriving[2], out=rows)
        torch.minimum(rows[0], rows[1], out=best)
        torch.minimum(best, rows[2], out=best)
        target = dist[i + 1, :, 1:-1, 1:-1]
        torch.minimum(target, best, out=target)
    for i in range(n - 2, -1, -1):  # backward: plane i from plane i+1
        torch.add(neighbours(dist[i + 1]), edge[i, :, :, None], out=candidates)
        torch.amin(candidates.flatten(0, 1), dim=0, out=best)
        target = dist[i, :, 1:-1, 1:-1]
        torch.minimum(target, best, out=target)


@contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run torch on one intra-op thread while inside, on CPU (see the module docstring)."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _validated(image: torch.Tensor, seeds: torch.Tensor, spacing: Sequence[float],
               lamb: float, iterations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the arguments; return image [C, X, Y, Z] and seeds [B, X, Y, Z]."""
    if not isinstance(image, torch.Tensor) or not isinstance(seeds, torch.Tensor):
        raise TypeError("geodesic_distance: image and seeds must be torch tensors "
                        f"(got {type(image).__name__}, {type(seeds).__name__}); "
                        "convert with torch.from_numpy")
    if image.ndim not in (3, 4) or not image.is_floating_point():
        raise ValueError(f"geodesic_distance: image must be float [C, X, Y, Z] or [X, Y, Z], "
                         f"got {image.dtype} {tuple(image.shape)}")
    if seeds.ndim not in (3, 4) or seeds.dtype != torch.bool:
        raise ValueError(f"geodesic_distance: seeds must be bool [X, Y, Z] or [B, X, Y, Z], "
                         f"got {seeds.dtype} {tuple(seeds.shape)}")
    image = image if image.ndim == 4 else image[None]
    seeds = seeds if seeds.ndim == 4 else seeds[None]
    if image.shape[1:] != seeds.shape[1:]:
        raise ValueError(f"geodesic_distance: seeds {tuple(seeds.shape[1:])} and image "
                         f"{tuple(image.shape[1:])} must cover the same [X, Y, Z] grid")
    if image.device != seeds.device:
        raise ValueError(f"geodesic_distance: image is on {image.device} but seeds on "
                         f"{seeds.device}; move both to one device")
    if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"geodesic_distance: spacing must be 3 positive voxel sizes in mm, "
                         f"got {tuple(spacing)}")
    if not 0.0 <= lamb <= 1.0:
        raise ValueError(f"geodesic_distance: lamb must lie in [0, 1], got {lamb}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"geodesic_distance: iterations must be an int >= 1, got {iterations!r}")
    if not torch.isfinite(torch.stack(image.aminmax())).all():  # NaN propagates
        raise ValueError("geodesic_distance: image has NaN or infinite values; "
                         "fill or clip them first")
    return image, seeds


