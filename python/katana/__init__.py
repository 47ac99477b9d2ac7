"""katana for Python: SAMURAI video object tracking over libkatana, with ctypes and numpy.

    import katana
    with katana.Model() as model:                       # the installed default model
        for r in katana.track("clip.mp4", box=(96, 92, 42, 29), model=model):
            print(r.frame, r.box, r.presence, r.scores.object)

Frames are HxWx3 uint8 numpy arrays, RGB (bgr=True for OpenCV's BGR) or HxW uint8 grayscale;
an array whose pixels are packed (strides (*, 3, 1) or (*, 1)) goes to the library without a
copy, with its row stride. Every call into libkatana releases the GIL (ctypes does).

Ownership: a Model owns a kat_model reference (the loaded sessions); each Tracker holds its
own reference to it, so trackers share one model's sessions. Each Tracker and each track()
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
    """A loaded model bundle (a kat_model: its four ONNX Runtime sessions) and how to run it.

    bundle: a bundle folder, or None for the installed default model. ep: an execution
    provider preset ("cpu", "cuda", "tensorrt", "mac"); options: extra provider options
    (kat_ep_profile_set keys, e.g. {"trt_fp16": 0}); threads: ONNX Runtime intra-op threads per
    module (0: its default); selection: "samurai" or "sam2".

    The Model owns one kat_model reference (kat_model_open), dropped by close() or when it is
    collected; every Tracker holds its own C reference, so a tracker keeps working after its
    Model is closed. track() opens its stream on the Model's kat_model (its own reference).
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
        self._closed = False
        # Refuse bad options now, not at the first tracker.
        topt = _lib.TrackerOptions()
        _tracker_options(topt, bundle, ep, selection, threads, verify_hashes, False,
                         self.options)
        mopt = _lib.ModelOptions()
        _lib.kat_model_options_init(ctypes.byref(mopt))
        mopt.verify_hashes = topt.verify_hashes
        mopt.ep = topt.ep
        err = ctypes.create_string_buffer(_lib.KAT_ERROR_SIZE)
        ptr = ctypes.c_void_p()
        rc = _lib.kat_model_open(bundle.encode(), ctypes.byref(mopt), ctypes.byref(ptr), err,
                                 len(err))
        if rc:
            raise _err(rc, _text(err.value))
        with _live_lock:
            _live["model"] += 1
        self._ptr = ptr.value
        self._fin = weakref.finalize(self, _free, "model", ptr.value, _lib.kat_model_release)

    @property
    def supports_mask_prompts(self):
        """True when the bundle's mask decoder takes a mask input (format 2): mask prompts and
        corrections work."""
        self._alive()
        return _lib.kat_model_supports_mask_input(self._ptr) == 1

    def _alive(self):
        if self._closed or not self._fin.alive:
            raise _err(_lib.ESTATE, "the model is closed")

    def _options(self, opt, masks):
        self._alive()
        _tracker_options(opt, self.bundle, self.ep, self.selection, self.threads,
                         self.verify_hashes, masks, self.options)

    def tracker(self, *, masks=False, max_objects=None):
        """A new Tracker over this model (masks=True: results carry the mask)."""
        return Tracker(self, masks=masks, max_objects=max_objects)

    def close(self):
        """Drops the Model's kat_model reference now (idempotent); trackers keep theirs."""
        self._closed = True
        self._fin()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "katana.Model(%r, ep=%r, selection=%r)" % (self.bundle, self.ep, self.selection)


# Live C handles, for tests and diagnostics: {"model": n, "tracker": n, "stream": n}.
_live = {"model": 0, "tracker": 0, "stream": 0}
_live_lock = threading.Lock()


def live_handles():
    """How many model, tracker and stream handles are open now (a dict copy)."""
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


def _prompt(box, points, labels, mask):
    """A kat_prompt from Python values, and the array it borrows (the mask) to keep alive for
    the kat_tracker_add_prompt call, which copies it."""
    p = _lib.Prompt()
    _lib.kat_prompt_init(ctypes.byref(p))
    keep = None
    if box is None and points is None and mask is None:
        raise _err(_lib.EINVAL, "add_object needs a box=(x, y, w, h), points=[(x, y), ...] or "
                   "mask=")
    if mask is not None and (box is not None or points is not None):
        raise _err(_lib.EINVAL, "a mask prompt takes no box or points")
    if box is not None:
        p.has_box = 1
        p.box[:] = list(_box4(box))
    if points is not None:
        try:
            pts = [tuple(float(v) for v in pt) for pt in points]
        except (TypeError, ValueError):
            raise _err(_lib.EINVAL, "points must be a list of (x, y); got %r" % (points,)) \
                from None
        if not pts or any(len(pt) != 2 for pt in pts):
            raise _err(_lib.EINVAL, "points must be a non-empty list of (x, y); got %r"
                       % (points,))
        if len(pts) > _lib.KAT_MAX_PROMPT_POINTS:
            raise _err(_lib.EINVAL, "at most %d points per prompt, got %d"
                       % (_lib.KAT_MAX_PROMPT_POINTS, len(pts)))
        labs = [1] * len(pts) if labels is None else list(labels)
        if len(labs) != len(pts):
            raise _err(_lib.EINVAL, "labels must have one value per point (%d), got %d"
                       % (len(pts), len(labs)))
        for i, ((x, y), lab) in enumerate(zip(pts, labs)):
            if lab not in (0, 1) or isinstance(lab, bool):
                raise _err(_lib.EINVAL, "a label is 1 (positive) or 0 (negative), got %r"
                           % (lab,))
            p.points[i][0], p.points[i][1] = x, y
            p.labels[i] = int(lab)
        p.n_points = len(pts)
    elif labels is not None:
        raise _err(_lib.EINVAL, "labels= needs points=")
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.ndim != 2:
            raise _err(_lib.EINVAL, "a mask must be an HxW numpy array (nonzero = object)")
        keep = np.ascontiguousarray(mask != 0, dtype=np.uint8)
        p.mask = keep.ctypes.data
        p.mask_height, p.mask_width = int(keep.shape[0]), int(keep.shape[1])
        p.mask_stride = keep.strides[0]
    return p, keep


class Tracker:
    """Frame-by-frame tracking of several objects: add_object(id, box=/points=/mask=) prompts
    an object on the next frame given to step(); step(frame) tracks every object into it and
    returns one Result per object that exists on it, in the order the objects were added.

    A prompt for an object already tracked corrects it on that frame (a second prompt needs a
    bundle with a mask input, format 2, as does a mask prompt; else KAT_ENOTSUP).
    """

    def __init__(self, model, masks=False, max_objects=None):
        if not isinstance(model, Model):
            raise _err(_lib.EINVAL, "model must be a katana.Model, got %s" % type(model).__name__)
        opt = _lib.TrackerOptions()
        model._options(opt, masks)
        if max_objects is not None:
            if not isinstance(max_objects, int) or isinstance(max_objects, bool):
                raise _err(_lib.EINVAL, "max_objects must be an int, got %r" % (max_objects,))
            opt.max_objects = max_objects
        err = ctypes.create_string_buffer(_lib.KAT_ERROR_SIZE)
        ptr = ctypes.c_void_p()
        rc = _lib.kat_tracker_create_on_model(model._ptr, ctypes.byref(opt), ctypes.byref(ptr),
                                              err, len(err))
        if rc:
            raise _err(rc, _text(err.value))
        with _live_lock:
            _live["tracker"] += 1
        self._ptr = ptr.value
        self._fin = weakref.finalize(self, _free, "tracker", ptr.value, _lib.kat_tracker_destroy)
        self._guard = _Guard("tracker")
        self._cap = int(opt.max_objects)
        self._res = (_lib.TrackResult * self._cap)()  # one record per object, reused
        self._count = ctypes.c_int(0)
        self._queued = []     # (id, Prompt, mask copy) before the first frame fixes the size
        self._size = None     # (width, height) of the video once the first frame came
        self._ids = []        # ids tracked or prompted, in the order they were added
        self._frames = 0      # frames stepped since creation
        self.model = model

    @property
    def closed(self):
        return not self._fin.alive

    def _check(self):
        if not self._fin.alive:
            raise _err(_lib.ESTATE, "the tracker is closed")

    def _raise(self, rc):
        raise _err(rc, _text(_lib.kat_tracker_last_error(self._ptr)))

    def add_object(self, id, box=None, points=None, mask=None, labels=None):
        """Prompts object `id` (an int >= 0) on the next frame given to step(): a box (x, y, w,
        h source pixels), points [(x, y), ...] with labels (1 positive, the default; 0
        negative), a box plus points, or a mask (HxW array of the frame's size, nonzero =
        object). A new id adds an object; a known id is corrected on that frame."""
        self._check()
        if not isinstance(id, int) or isinstance(id, bool) or id < 0:
            raise _err(_lib.EINVAL, "object id must be an int >= 0, got %r" % (id,))
        p, keep = _prompt(box, points, labels, mask)
        with self._guard:
            if self._size is None:
                # No frame yet: the C tracker learns the video size from the first step().
                self._queued.append((id, p, keep))
            else:
                rc = _lib.kat_tracker_add_prompt(self._ptr, id, self._frames, ctypes.byref(p))
                if rc:
                    self._raise(rc)
            if id not in self._ids:
                self._ids.append(id)

    def remove_object(self, id):
        """Stops tracking `id` from the next frame on; KAT_ENOENT when it is not in the
        tracker."""
        self._check()
        with self._guard:
            if self._size is None:
                before = len(self._queued)
                self._queued = [q for q in self._queued if q[0] != id]
                if len(self._queued) == before:
                    raise _err(_lib.ENOENT, "no object %r in this tracker" % (id,))
            else:
                rc = _lib.kat_tracker_remove_object(self._ptr, id)
                if rc:
                    self._raise(rc)
            if id in self._ids:
                self._ids.remove(id)

    @property
    def objects(self):
        """The ids tracked or prompted, in the order they were added."""
        return list(self._ids)

    def step(self, frame, *, bgr=False):
        """Tracks into `frame` (HxWx3 uint8 RGB, or BGR with bgr=True); a list of Result, one
        per object that exists on this frame (empty before any add_object)."""
        self._check()
        with self._guard:
            f, keep = _frame(frame, bgr, self._frames)
            if self._size is None:
                if not self._queued:
                    self._frames += 1
                    return []
                rc = _lib.kat_tracker_reset(self._ptr, f.width, f.height)
                if rc:
                    self._raise(rc)
                for i, (obj_id, p, _mask) in enumerate(self._queued):
                    rc = _lib.kat_tracker_add_prompt(self._ptr, obj_id, 0, ctypes.byref(p))
                    if rc:
                        # Drop the refused prompt; the others wait for the next step.
                        msg = _text(_lib.kat_tracker_last_error(self._ptr))
                        del self._queued[i]
                        self._ids = [x for x in self._ids if any(q[0] == x for q in self._queued)]
                        _lib.kat_tracker_reset(self._ptr, f.width, f.height)
                        raise _err(rc, msg)
                self._queued = []
                self._size = (f.width, f.height)
                self._frames = 0
            rc = _lib.kat_tracker_track(self._ptr, ctypes.byref(f), self._res, self._cap,
                                        ctypes.byref(self._count))
            del keep
            if rc:
                self._raise(rc)
            n = min(self._count.value, self._cap)
            out = [_result(self._res[i], self._res[i].obj_id) for i in range(n)]
            self._frames += 1
            return out

    def close(self):
        """Frees the C tracker now (idempotent)."""
        self._fin()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _boxes(boxes):
    """{id: box} from boxes=[box, ...] (ids 0, 1, ...) or {id: box}."""
    if isinstance(boxes, dict):
        items = list(boxes.items())
    elif isinstance(boxes, (list, tuple)):
        items = list(enumerate(boxes))
    else:
        raise _err(_lib.EINVAL, "boxes must be a list of boxes or a dict {id: box}, got %s"
                   % type(boxes).__name__)
    if not items:
        raise _err(_lib.EINVAL, "boxes is empty")
    out = {}
    for i, b in items:
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise _err(_lib.EINVAL, "an object id must be an int >= 0, got %r" % (i,))
        out[i] = _box4(b, "box of object %d" % i)
    return out


class Track:
    """Iterator over a source (a video file or URL, a folder of frames, a device), built on
    kat_stream over the Model's kat_model (kat_stream_open_on_model). Returned by
    katana.track(): with box=, one Result per frame; with boxes=, one list of Result per frame
    (one per object, in the order the ids were given)."""

    def __init__(self, source, box=None, model=None, pipeline=True, *, boxes=None, masks=False,
                 max_frames=0, input_format=None, drop_oldest=False, queue_capacity=None):
        if (box is None) == (boxes is None):
            raise _err(_lib.EINVAL, "give box=(x, y, w, h) for one object or boxes=[...] / "
                       "{id: box} for several, not %s" % ("both" if box is not None else
                                                          "neither"))
        objects = _boxes(boxes) if boxes is not None else None
        b = _box4(box) if box is not None else None
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
        if not isinstance(max_frames, int) or max_frames < 0:
            raise _err(_lib.EINVAL, "max_frames must be an int >= 0, got %r" % (max_frames,))
        o = _lib.StreamOptions()
        _lib.kat_stream_options_init(ctypes.byref(o))
        model._options(o.tracker, masks)
        if objects is not None and len(objects) > o.tracker.max_objects:
            o.tracker.max_objects = len(objects)
        o.pipeline = 1 if pipeline else 0
        o.drop_oldest = 1 if drop_oldest else 0
        o.max_frames = max_frames
        if queue_capacity is not None:
            o.queue_capacity = int(queue_capacity)
        self._fmt = input_format.encode() if input_format else None
        o.source.input_format = self._fmt
        err = ctypes.create_string_buffer(_lib.KAT_ERROR_SIZE)
        ptr = ctypes.c_void_p()
        rc = _lib.kat_stream_open_on_model(model._ptr, source.encode(),
                                           ctypes.byref(b) if b is not None else None,
                                           ctypes.byref(o), ctypes.byref(ptr), err, len(err))
        if rc:
            raise _err(rc, _text(err.value))
        with _live_lock:
            _live["stream"] += 1
        self._ptr = ptr.value
        self._fin = weakref.finalize(self, _free, "stream", ptr.value, _lib.kat_stream_close)
        self._guard = _Guard("track iterator")
        self._multi = objects is not None
        self._cap = int(o.tracker.max_objects) if self._multi else 1
        self._res = (_lib.TrackResult * self._cap)()
        self._count = ctypes.c_int(0)
        self._done = False
        self.model = model
        for i, ob in (objects or {}).items():  # frame 0 has not reached the tracker yet
            p = _lib.Prompt()
            _lib.kat_prompt_init(ctypes.byref(p))
            p.has_box = 1
            p.box[:] = list(ob)
            rc = _lib.kat_stream_add_prompt(self._ptr, i, 0, ctypes.byref(p))
            if rc:
                msg = _text(_lib.kat_stream_prompt_error(self._ptr))
                self.close()
                raise _err(rc, "object %d: %s" % (i, msg))

    def __iter__(self):
        return self

    def __next__(self):
        if self._done or not self._fin.alive:
            raise StopIteration
        with self._guard:
            if self._multi:
                rc = _lib.kat_stream_next_objects(self._ptr, self._res, self._cap,
                                                  ctypes.byref(self._count), -1)
            else:
                rc = _lib.kat_stream_next(self._ptr, ctypes.byref(self._res[0]))
            if rc == _lib.EOF:
                self._done = True
                raise StopIteration
            if rc:
                self._done = True
                raise _err(rc, _text(_lib.kat_stream_last_error(self._ptr)))
            if self._multi:
                n = min(self._count.value, self._cap)
                return [_result(self._res[i], self._res[i].obj_id) for i in range(n)]
            return _result(self._res[0], 0)

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


def track(source, box=None, model=None, pipeline=True, *, boxes=None, **kw) -> Track:
    """Tracks objects through `source` (a video file or URL, a folder of PNG/JPEG frames, a
    device such as /dev/video0 with input_format="v4l2") from their boxes (x, y, w, h) on the
    first frame: box= for one object (an iterator of Result, one per frame) or boxes= for
    several, a list (ids 0, 1, ...) or a dict {id: box} (an iterator of lists of Result, one per
    object on the frame). model: a Model, a bundle path, or None for the default model; the
    stream shares the Model's loaded sessions. pipeline: three stages on threads (results are
    identical either way). Keywords: masks, max_frames, input_format, drop_oldest,
    queue_capacity."""
    return Track(source, box, model, pipeline, boxes=boxes, **kw)


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
