"""katana for Python: SAMURAI video object tracking over libkatana, with ctypes and numpy.

    import katana
    with katana.Model() as model:                       # the installed default model
        for r in katana.track("clip.mp4", box=(96, 92, 42, 29), model=model):
            print(r.frame, r.box, r.presence, r.scores.object)

Frames are HxWx3 uint8 numpy arrays, RGB (bgr=True for OpenCV's BGR) or HxW uint8 grayscale;
an array whose pixels are packed (strides (*, 3, 1) or (*, 1)) goes to the library without a
copy, with its row stride. Every call into libkatana releases the GIL (ctypes does).

Ownership: a Model holds only the bundle path and options; each Tracker and each track()
iterator owns its C handle, freed by close(), by leaving its `with` block, or when it is
garbage-collected. Thread-safety: one Tracker or track iterator is used by one thread at a time
(a second thread gets katana.Error KAT_ESTATE); different ones may run on different threads.
"""

import dataclasses
import math
import os
import threading
import weakref
from typing import Iterable, Optional, Tuple

import ctypes

import numpy as np

from . import _lib
from ._lib import lib as _raw  # noqa: F401  (the loaded ctypes.CDLL, for advanced use)

__all__ = ["Error", "Model", "Tracker", "Track", "Result", "Scores", "track", "doctor",
           "version", "default_model_path"]

library_path = _lib.library_path


class Error(Exception):
    """A katana failure: `status` (negative int), `name` ("KAT_EINVAL"), `message`."""

    def __init__(self, status, message):
        self.status = int(status)
        self.name = _lib.kat_status_name(self.status).decode()
        self.message = message or _lib.kat_strerror(self.status).decode()
        super().__init__("%s: %s" % (self.name, self.message))


def _err(status, message):
    return Error(status, message)


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def version():
    """libkatana's version string."""
    return _lib.kat_version().decode()


def default_model_path():
    """The installed default model's folder (KATANA_MODEL_DIR overrides), or None."""
    p = _lib.kat_default_model_path()
    return p.decode() if p else None


@dataclasses.dataclass(frozen=True)
class Scores:
    object: float          # object score logit
    iou: float             # predicted IoU of the chosen mask
    kf: Optional[float]    # Kalman IoU (SAMURAI stable phase), else None


@dataclasses.dataclass(frozen=True)
class Result:
    """One object's result on one frame."""
    frame: int                                  # frame index in the track (0 = prompt frame)
    id: int                                     # object id
    box: Tuple[float, float, float, float]      # x, y, w, h in source pixels; zeros if empty
    box_valid: bool                             # False when the mask is empty
    presence: str                               # "tracked", "occluded" or "lost"
    scores: Scores
    candidate: int                              # mask token used: 0 single, 1..3 multimask
    mask: Optional[np.ndarray] = None           # [H, W] uint8 0/255 (masks=True), a copy
    source_frame: int = 0                       # index in the source (live input may drop)
    dropped_before: int = 0                     # source frames dropped before this one
    kf_box: Optional[Tuple[float, float, float, float]] = None


def _result(r, obj_id, frame=None):
    mask = None
    if r.mask:
        h, w, stride = r.mask_height, r.mask_width, r.mask_stride
        buf = (ctypes.c_uint8 * (stride * h)).from_address(r.mask)
        mask = np.frombuffer(buf, dtype=np.uint8).reshape(h, stride)[:, :w].copy()
    return Result(
        frame=int(r.frame_index if frame is None else frame),
        id=int(obj_id),
        box=tuple(float(v) for v in r.box),
        box_valid=bool(r.box_valid),
        presence=_lib.PRESENCE_NAMES.get(r.presence, "unknown"),
        scores=Scores(float(r.object_score), float(r.iou_pred),
                      float(r.kf_score) if r.has_kf_score else None),
        candidate=int(r.candidate),
        mask=mask,
        source_frame=int(r.source_index),
        dropped_before=int(r.dropped_before),
        kf_box=tuple(float(v) for v in r.kf_box) if r.has_kf_box else None)


def _box4(box, what="box"):
    try:
        vals = [float(v) for v in box]
    except (TypeError, ValueError):
        raise _err(_lib.EINVAL, "%s must be 4 numbers x, y, w, h; got %r" % (what, box)) from None
    if len(vals) != 4:
        raise _err(_lib.EINVAL, "%s must be 4 numbers x, y, w, h; got %d" % (what, len(vals)))
    if not all(math.isfinite(v) for v in vals):
        raise _err(_lib.EINVAL, "%s has a non-finite value: %r" % (what, vals))
    if vals[2] <= 0 or vals[3] <= 0:
        raise _err(_lib.EINVAL, "%s width and height must be > 0; got %r" % (what, vals))
    return (ctypes.c_double * 4)(*vals)


def _frame(arr, bgr=False, index=0):
    """A kat_frame viewing `arr` (kept alive by the returned tuple's second item)."""
    if not isinstance(arr, np.ndarray):
        raise _err(_lib.EINVAL, "a frame must be a numpy array, got %s" % type(arr).__name__)
    if arr.dtype != np.uint8:
        raise _err(_lib.EINVAL, "a frame must be uint8, got %s" % arr.dtype)
    if arr.ndim == 3 and arr.shape[2] == 3:
        fmt = _lib.PIXEL_BGR24 if bgr else _lib.PIXEL_RGB24
        packed = arr.strides[2] == 1 and arr.strides[1] == 3 and arr.strides[0] > 0
    elif arr.ndim == 2:
        fmt = _lib.PIXEL_GRAY8
        packed = arr.strides[1] == 1 and arr.strides[0] > 0
    else:
        raise _err(_lib.EINVAL, "a frame must be HxWx3 (RGB/BGR) or HxW (gray) uint8, got shape "
                   "%r" % (arr.shape,))
    if arr.shape[0] <= 0 or arr.shape[1] <= 0:
        raise _err(_lib.EINVAL, "a frame must not be empty, got shape %r" % (arr.shape,))
    if not packed:
        arr = np.ascontiguousarray(arr)  # the one case that copies: scattered pixels
    f = _lib.Frame()
    f.format = fmt
    f.height, f.width = int(arr.shape[0]), int(arr.shape[1])
    f.data[0] = arr.ctypes.data
    f.data[1] = None
    f.stride[0] = arr.strides[0]
    f.stride[1] = 0
    f.index = index
    f.time_s = 0.0
    return f, arr


def _tracker_options(opt, bundle, ep, selection, threads, verify_hashes, masks, options):
    _lib.kat_tracker_options_init(ctypes.byref(opt))
    if isinstance(ep, str):
        rc = _lib.kat_ep_profile_preset(ep.encode(), ctypes.byref(opt.ep))
        if rc:
            raise _err(rc, "unknown execution provider preset %r (cpu, cuda, tensorrt, mac)" % ep)
    else:
        raise _err(_lib.EINVAL, "ep must be a preset name such as 'cpu', got %r" % (ep,))
    if threads is not None:
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise _err(_lib.EINVAL, "threads must be an int >= 0 (0: ONNX Runtime's default), "
                       "got %r" % (threads,))
        rc = _lib.kat_ep_profile_set(ctypes.byref(opt.ep), -1, b"intra_op_threads",
                                     str(threads).encode())
        if rc:
            raise _err(rc, "threads=%r refused by the execution provider profile" % threads)
    for key, value in (options or {}).items():
        rc = _lib.kat_ep_profile_set(ctypes.byref(opt.ep), -1, str(key).encode(),
                                     str(value).encode())
        if rc:
            raise _err(rc, "bad execution provider option %s=%s" % (key, value))
    sel = _lib.kat_selection_parse(str(selection).encode())
    if sel < 0:
        raise _err(_lib.EINVAL, "selection must be 'samurai' or 'sam2', got %r" % (selection,))
    opt.selection = sel
    opt.verify_hashes = 1 if verify_hashes else 0
    opt.want_masks = 1 if masks else 0


class Model:
    """A model bundle and how to run it.

    bundle: a bundle folder, or None for the installed default model. ep: an execution
    provider preset ("cpu", "cuda", "tensorrt", "mac"); options: extra provider options
    (kat_ep_profile_set keys, e.g. {"trt_fp16": 0}); threads: ONNX Runtime intra-op threads per
    module (0: its default); selection: "samurai" or "sam2".

    With this libkatana a Model holds no C handle: every tracker opens its own sessions (the
    shared kat_model handle of issue 13 replaces that when it lands; the Python API stays).
    """

    def __init__(self, bundle=None, ep="cpu", *, selection="samurai", threads=None,
                 options=None, verify_hashes=True):
        if bundle is None:
            bundle = default_model_path()
            if bundle is None:
                raise _err(_lib.ENOENT, "no default model is installed (set KATANA_MODEL_DIR or "
                           "pass bundle=)")
        bundle = os.fspath(bundle)
        if not os.path.isfile(os.path.join(bundle, "katana.json")):
            raise _err(_lib.ENOENT, "'%s' is not a katana bundle (no katana.json)" % bundle)
        self.bundle = bundle
        self.ep = ep
        self.selection = selection
        self.threads = threads
        self.options = dict(options or {})
        self.verify_hashes = verify_hashes
        # Refuse bad options now, not at the first tracker.
        _tracker_options(_lib.TrackerOptions(), bundle, ep, selection, threads, verify_hashes,
                         False, self.options)
        self._closed = False

    def _options(self, opt, masks):
        if self._closed:
            raise _err(_lib.ESTATE, "the model is closed")
        _tracker_options(opt, self.bundle, self.ep, self.selection, self.threads,
                         self.verify_hashes, masks, self.options)

    def tracker(self, *, masks=False):
        """A new Tracker over this model (masks=True: results carry the mask)."""
        return Tracker(self, masks=masks)

    def close(self):
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "katana.Model(%r, ep=%r, selection=%r)" % (self.bundle, self.ep, self.selection)


# Live C handles, for tests and diagnostics: {"tracker": n, "stream": n}.
_live = {"tracker": 0, "stream": 0}
_live_lock = threading.Lock()


def live_handles():
    """How many tracker and stream handles are open now (a dict copy)."""
    with _live_lock:
        return dict(_live)


def _free(kind, ptr, destroy):
    with _live_lock:
        _live[kind] -= 1
    destroy(ptr)


class _Guard:
    """Refuses a second thread on a single-threaded handle instead of corrupting it."""

    def __init__(self, what):
        self._lock = threading.Lock()
        self._what = what

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            raise _err(_lib.ESTATE, "this %s is in use by another thread" % self._what)

    def __exit__(self, *exc):
        self._lock.release()


class Tracker:
    """Frame-by-frame tracking: add_object(id, box=...), then step(frame) on each frame in order.

    This libkatana tracks one object per tracker: add_object with the id already tracked
    re-seeds it on the next frame (its memory is cleared); another id while one is tracked is
    KAT_ENOTSUP, as are point and mask prompts (they come with the multi-object API).
    """

    def __init__(self, model, masks=False):
        if not isinstance(model, Model):
            raise _err(_lib.EINVAL, "model must be a katana.Model, got %s" % type(model).__name__)
        opt = _lib.TrackerOptions()
        model._options(opt, masks)
        err = ctypes.create_string_buffer(_lib.KAT_ERROR_SIZE)
        ptr = ctypes.c_void_p()
        rc = _lib.kat_tracker_create(model.bundle.encode(), ctypes.byref(opt), ctypes.byref(ptr),
                                     err, len(err))
        if rc:
            raise _err(rc, _text(err.value))
        with _live_lock:
            _live["tracker"] += 1
        self._ptr = ptr.value
        self._fin = weakref.finalize(self, _free, "tracker", ptr.value, _lib.kat_tracker_destroy)
        self._guard = _Guard("tracker")
        self._res = _lib.TrackResult()
        self._pending = None  # (id, c_double[4]) to start on the next frame
        self._id = None       # the tracked object's id
        self._frames = 0      # frames stepped since creation
        self.model = model

    @property
    def closed(self):
        return not self._fin.alive

    def _check(self):
        if not self._fin.alive:
            raise _err(_lib.ESTATE, "the tracker is closed")

    def add_object(self, id, box=None, points=None, mask=None):
        """Prompts object `id` with `box` (x, y, w, h) on the next frame given to step()."""
        self._check()
        if points is not None or mask is not None:
            raise _err(_lib.ENOTSUP, "point and mask prompts need the multi-object C API "
                       "(issue 13); this libkatana takes box prompts only")
        if box is None:
            raise _err(_lib.EINVAL, "add_object needs a box=(x, y, w, h)")
        if not isinstance(id, int) or isinstance(id, bool) or id < 0:
            raise _err(_lib.EINVAL, "object id must be an int >= 0, got %r" % (id,))
        b = _box4(box)
        current = self._pending[0] if self._pending else self._id
        if current is not None and current != id:
            raise _err(_lib.ENOTSUP, "this libkatana tracks one object per tracker (object %d "
                       "is tracked; remove it first)" % current)
        self._pending = (id, b)

    def remove_object(self, id):
        """Stops tracking `id`; later steps return no result for it."""
        self._check()
        if self._pending and self._pending[0] == id:
            self._pending = None
            return
        if self._id != id:
            raise _err(_lib.EINVAL, "no object %r in this tracker" % (id,))
        self._id = None

    @property
    def objects(self):
        """The ids tracked or prompted."""
        ids = set()
        if self._id is not None:
            ids.add(self._id)
        if self._pending:
            ids.add(self._pending[0])
        return sorted(ids)

    def step(self, frame, *, bgr=False):
        """Tracks into `frame` (HxWx3 uint8 RGB, or BGR with bgr=True); a list of Result, one
        per object (empty before any add_object)."""
        self._check()
        with self._guard:
            f, keep = _frame(frame, bgr, self._frames)
            r = self._res
            if self._pending:
                obj_id, box = self._pending
                rc = _lib.kat_tracker_start(self._ptr, ctypes.byref(f), ctypes.byref(box),
                                            ctypes.byref(r))
                if rc:
                    raise _err(rc, _text(_lib.kat_tracker_last_error(self._ptr)))
                self._pending = None
                self._id = obj_id
            elif self._id is not None:
                rc = _lib.kat_tracker_step(self._ptr, ctypes.byref(f), ctypes.byref(r))
                if rc:
                    raise _err(rc, _text(_lib.kat_tracker_last_error(self._ptr)))
            else:
                self._frames += 1
                del keep
                return []
            del keep
            out = [_result(r, self._id, self._frames)]
            self._frames += 1
            return out

    def close(self):
        """Frees the C tracker now (idempotent)."""
        self._fin()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Track:
    """Iterator of Result over a source (a video file or URL, a folder of frames, a device),
    built on kat_stream. Returned by katana.track()."""

    def __init__(self, source, box, model=None, pipeline=True, *, masks=False, max_frames=0,
                 input_format=None, drop_oldest=False, queue_capacity=None):
        if model is None:
            model = Model()
        if isinstance(model, (str, os.PathLike)):
            model = Model(model)
        if not isinstance(model, Model):
            raise _err(_lib.EINVAL, "model must be a katana.Model, a bundle path or None")
        if not isinstance(source, (str, os.PathLike)):
            raise _err(_lib.EINVAL, "source must be a path, URL or device name, got %s"
                       % type(source).__name__)
        source = os.fspath(source)
        b = _box4(box)
        if not isinstance(max_frames, int) or max_frames < 0:
            raise _err(_lib.EINVAL, "max_frames must be an int >= 0, got %r" % (max_frames,))
        o = _lib.StreamOptions()
        _lib.kat_stream_options_init(ctypes.byref(o))
        model._options(o.tracker, masks)
        o.pipeline = 1 if pipeline else 0
        o.drop_oldest = 1 if drop_oldest else 0
        o.max_frames = max_frames
        if queue_capacity is not None:
            o.queue_capacity = int(queue_capacity)
        self._fmt = input_format.encode() if input_format else None
        o.source.input_format = self._fmt
        err = ctypes.create_string_buffer(_lib.KAT_ERROR_SIZE)
        ptr = ctypes.c_void_p()
        rc = _lib.kat_stream_open(model.bundle.encode(), source.encode(), ctypes.byref(b),
                                  ctypes.byref(o), ctypes.byref(ptr), err, len(err))
        if rc:
            raise _err(rc, _text(err.value))
        with _live_lock:
            _live["stream"] += 1
        self._ptr = ptr.value
        self._fin = weakref.finalize(self, _free, "stream", ptr.value, _lib.kat_stream_close)
        self._guard = _Guard("track iterator")
        self._res = _lib.TrackResult()
        self._done = False
        self.model = model

    def __iter__(self):
        return self

    def __next__(self):
        if self._done or not self._fin.alive:
            raise StopIteration
        with self._guard:
            rc = _lib.kat_stream_next(self._ptr, ctypes.byref(self._res))
            if rc == _lib.EOF:
                self._done = True
                raise StopIteration
            if rc:
                self._done = True
                raise _err(rc, _text(_lib.kat_stream_last_error(self._ptr)))
            return _result(self._res, 0)

    def info(self):
        """The source's width, height, fps, frame_count and codec, as a dict."""
        self._alive()
        i = _lib.SourceInfo()
        _lib.kat_stream_source_info(self._ptr, ctypes.byref(i))
        return {"width": i.width, "height": i.height, "fps": i.fps,
                "frame_count": i.frame_count, "codec": _text(i.codec)}

    def stats(self):
        """Frames delivered and dropped, and per-stage p50/p95 milliseconds, as a dict."""
        self._alive()
        st = _lib.StreamStats()
        rc = _lib.kat_stream_get_stats(self._ptr, ctypes.byref(st))
        if rc:
            raise _err(rc, "kat_stream_get_stats failed")
        names = ["decode", "preprocess", "image_encoder", "tracker", "latency", "interval"]
        return {"frames": st.frames, "dropped": st.dropped, "wall_s": st.wall_s,
                "p50_ms": dict(zip(names, st.p50_ms)), "p95_ms": dict(zip(names, st.p95_ms))}

    def _alive(self):
        if not self._fin.alive:
            raise _err(_lib.ESTATE, "the track is closed")

    def cancel(self):
        """Stops the stream as soon as possible (safe from any thread)."""
        if self._fin.alive:
            _lib.kat_stream_cancel(self._ptr)

    def close(self):
        """Stops the stream and frees it now (idempotent)."""
        self._fin()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def track(source, box, model=None, pipeline=True, **kw) -> Track:
    """Tracks the object in `box` (x, y, w, h on the first frame) through `source` (a video file
    or URL, a folder of PNG/JPEG frames, a device such as /dev/video0 with input_format="v4l2");
    an iterator of Result, one per frame. model: a Model, a bundle path, or None for the default
    model. pipeline: three stages on threads (results are identical either way). Keywords:
    masks, max_frames, input_format, drop_oldest, queue_capacity."""
    return Track(source, box, model, pipeline, **kw)


def doctor():
    """What katana runs on: versions, library paths, CPU, providers, default model (a dict)."""
    i = _lib.SystemInfo()
    rc = _lib.kat_system_info_get(ctypes.byref(i))
    if rc:
        raise _err(rc, "kat_system_info_get failed")
    out = {f: (_text(getattr(i, f)) if isinstance(getattr(i, f), bytes) else getattr(i, f))
           for f, _ in _lib.SystemInfo._fields_}
    out["library"] = library_path
    out["default_model"] = default_model_path()
    providers = {}
    for kind, name in ((0, "cpu"), (1, "cuda"), (2, "tensorrt"), (3, "coreml")):
        why = ctypes.create_string_buffer(_lib.KAT_ERROR_SIZE)
        rc = _lib.kat_ep_check(kind, why, len(why))
        providers[name] = "ok" if rc == 0 else _text(why.value)
    out["providers"] = providers
    return out
