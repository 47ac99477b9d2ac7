"""ctypes declarations of libkatana's public C API (include/katana/*.h) and the library lookup.

Every structure here mirrors a C struct field by field; tests/python/test_python_package.py
compiles a C program that prints the sizes and offsets and compares them with these classes.
ctypes.CDLL releases the GIL around every foreign call, so katana's work runs while other Python
threads run.
"""

import ctypes
import os

KAT_ERROR_SIZE = 1024
KAT_MODULE_COUNT = 4

# kat_pixel_format
PIXEL_RGB24, PIXEL_BGR24, PIXEL_NV12, PIXEL_GRAY8 = 0, 1, 2, 3
# kat_presence
PRESENCE_NAMES = {0: "tracked", 1: "occluded", 2: "lost"}

# Status codes of KAT_STATUS_MAP (include/katana/common.h); the names come from the library
# itself (kat_status_name), these constants are for comparisons in Python code.
OK = 0
EINVAL = -1
ENOENT = -4
ESTATE = -11
ECANCELED = -12
EOF = -13
ENOTSUP = -15
EAGAIN = -18


class EpConfig(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("intra_op_threads", ctypes.c_int),
        ("inter_op_threads", ctypes.c_int),
        ("allow_spinning", ctypes.c_int),
        ("graph_opt_level", ctypes.c_int),
        ("save_optimized", ctypes.c_int),
        ("device_id", ctypes.c_int),
        ("gpu_mem_limit", ctypes.c_size_t),
        ("cudnn_algo_search", ctypes.c_int),
        ("trt_fp16", ctypes.c_int),
        ("trt_workspace", ctypes.c_size_t),
        ("coreml_mlprogram", ctypes.c_int),
        ("coreml_units", ctypes.c_int),
        ("cache_dir", ctypes.c_char * 512),
    ]


class EpProfile(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * 32),
        ("module", EpConfig * KAT_MODULE_COUNT),
        ("fallback", ctypes.c_int),
    ]


class TrackerOptions(ctypes.Structure):
    _fields_ = [
        ("selection", ctypes.c_int),
        ("stable_frames_threshold", ctypes.c_int),
        ("stable_ious_threshold", ctypes.c_double),
        ("min_obj_score_logits", ctypes.c_double),
        ("kf_score_weight", ctypes.c_double),
        ("memory_bank_iou_threshold", ctypes.c_double),
        ("memory_bank_obj_score_threshold", ctypes.c_double),
        ("memory_bank_kf_score_threshold", ctypes.c_double),
        ("lost_after_frames", ctypes.c_int),
        ("want_masks", ctypes.c_int),
        ("box_mode", ctypes.c_int),
        ("fast_resize", ctypes.c_int),
        ("num_frames", ctypes.c_int64),
        ("verify_hashes", ctypes.c_int),
        ("ep", EpProfile),
        ("max_objects", ctypes.c_int),
        ("max_cond_frames", ctypes.c_int),
        ("want_logits", ctypes.c_int),
        ("mask_width", ctypes.c_int),
        ("mask_height", ctypes.c_int),
    ]


class SourceOptions(ctypes.Structure):
    _fields_ = [
        ("raw_width", ctypes.c_int),
        ("raw_height", ctypes.c_int),
        ("raw_fd", ctypes.c_int),
        ("input_format", ctypes.c_char_p),
        ("fps", ctypes.c_double),
    ]


class StreamOptions(ctypes.Structure):
    _fields_ = [
        ("tracker", TrackerOptions),
        ("source", SourceOptions),
        ("pipeline", ctypes.c_int),
        ("queue_capacity", ctypes.c_int),
        ("drop_oldest", ctypes.c_int),
        ("keep_frames", ctypes.c_int),
        ("max_frames", ctypes.c_int64),
    ]


class Frame(ctypes.Structure):
    _fields_ = [
        ("format", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("data", ctypes.c_void_p * 2),
        ("stride", ctypes.c_size_t * 2),
        ("index", ctypes.c_int64),
        ("time_s", ctypes.c_double),
    ]


class TrackTimings(ctypes.Structure):
    _fields_ = [
        ("preprocess_ms", ctypes.c_double),
        ("module_ms", ctypes.c_double * KAT_MODULE_COUNT),
        ("host_ms", ctypes.c_double),
        ("total_ms", ctypes.c_double),
    ]


class TrackResult(ctypes.Structure):
    _fields_ = [
        ("frame_index", ctypes.c_int64),
        ("box", ctypes.c_double * 4),
        ("box_valid", ctypes.c_int),
        ("object_score", ctypes.c_float),
        ("presence", ctypes.c_int),
        ("absent_frames", ctypes.c_int),
        ("candidate", ctypes.c_int),
        ("iou_pred", ctypes.c_float),
        ("has_kf_score", ctypes.c_int),
        ("kf_score", ctypes.c_float),
        ("has_kf_box", ctypes.c_int),
        ("kf_box", ctypes.c_double * 4),
        ("kf_phase", ctypes.c_int),
        ("timings", TrackTimings),
        ("source_index", ctypes.c_int64),
        ("dropped_before", ctypes.c_int64),
        ("mask", ctypes.c_void_p),
        ("mask_width", ctypes.c_int),
        ("mask_height", ctypes.c_int),
        ("mask_stride", ctypes.c_size_t),
        ("prompt_box", ctypes.c_double * 4),
        ("prompt_clipped", ctypes.c_int),
        ("obj_id", ctypes.c_int),
        ("is_cond", ctypes.c_int),
        ("correction", ctypes.c_int),
        ("low_res", ctypes.c_void_p),
        ("low_res_size", ctypes.c_int),
    ]


class SourceInfo(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("fps", ctypes.c_double),
        ("frame_count", ctypes.c_int64),
        ("codec", ctypes.c_char * 32),
    ]


class StreamStats(ctypes.Structure):
    _fields_ = [
        ("frames", ctypes.c_int64),
        ("dropped", ctypes.c_int64),
        ("p50_ms", ctypes.c_double * 6),
        ("p95_ms", ctypes.c_double * 6),
        ("idle_s", ctypes.c_double * 3),
        ("wall_s", ctypes.c_double),
    ]


class SystemInfo(ctypes.Structure):
    _fields_ = [
        ("katana_version", ctypes.c_char * 32),
        ("ort_version", ctypes.c_char * 32),
        ("ort_library", ctypes.c_char * 512),
        ("ort_providers", ctypes.c_char * 256),
        ("cpu_model", ctypes.c_char * 128),
        ("logical_cores", ctypes.c_int),
        ("cpu_features", ctypes.c_char * 256),
        ("os", ctypes.c_char * 320),
        ("ffmpeg", ctypes.c_char * 128),
        ("gpu", ctypes.c_char * 128),
        ("int8_reduce_range", ctypes.c_int),
        ("int8_advice", ctypes.c_char * 128),
    ]


KAT_MAX_PROMPT_POINTS = 16


class Prompt(ctypes.Structure):
    _fields_ = [
        ("has_box", ctypes.c_int),
        ("box", ctypes.c_double * 4),
        ("n_points", ctypes.c_int),
        ("points", (ctypes.c_double * 2) * KAT_MAX_PROMPT_POINTS),
        ("labels", ctypes.c_int * KAT_MAX_PROMPT_POINTS),
        ("append", ctypes.c_int),
        ("mask", ctypes.c_void_p),
        ("mask_width", ctypes.c_int),
        ("mask_height", ctypes.c_int),
        ("mask_stride", ctypes.c_size_t),
    ]


class ModelOptions(ctypes.Structure):
    _fields_ = [
        ("verify_hashes", ctypes.c_int),
        ("ep", EpProfile),
    ]


# Structures checked against the C headers by the layout test: Python name -> C type name.
C_TYPES = {
    "EpConfig": "kat_ep_config",
    "EpProfile": "kat_ep_profile",
    "TrackerOptions": "kat_tracker_options",
    "SourceOptions": "kat_source_options",
    "StreamOptions": "kat_stream_options",
    "Frame": "kat_frame",
    "TrackTimings": "kat_track_timings",
    "TrackResult": "kat_track_result",
    "SourceInfo": "kat_source_info",
    "StreamStats": "kat_stream_stats",
    "SystemInfo": "kat_system_info",
    "Prompt": "kat_prompt",
    "ModelOptions": "kat_model_options",
}


# The SONAME of the ABI that the mirrors above describe (docs/abi.md: one per 0.x minor release).
_SONAME = "libkatana.so.0.1"


def _candidates():
    """Where libkatana may be, in order: $KATANA_LIBRARY; for an installed package only the
    prefix's libdir, named by the _installed.py that cmake --install writes (relative, so a
    moved prefix works); in a checkout: beside the package, $KATANA_BUILD_DIR, then build/."""
    env = os.environ.get("KATANA_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    names = [_SONAME, "libkatana.so", "libkatana.dylib"]
    dirs = [here]
    try:  # written by cmake --install (cmake/install.cmake): libkatana relative to the package
        from ._installed import LIB_RELATIVE
        return [os.path.join(os.path.normpath(os.path.join(here, LIB_RELATIVE)), n)
                for n in names]
    except ImportError:
        pass
    build = os.environ.get("KATANA_BUILD_DIR")
    if build:
        dirs.append(build)
    dirs.append(os.path.normpath(os.path.join(here, "..", "..", "build")))
    return [os.path.join(d, n) for d in dirs for n in names]


def _load():
    tried = []
    for path in _candidates():
        if not os.path.exists(path):
            tried.append(path)
            continue
        return ctypes.CDLL(path), path
    raise OSError(
        "katana: libkatana not found; tried " + ", ".join(tried) +
        " (set KATANA_LIBRARY to its path, or install katana with cmake --install)")


lib, library_path = _load()

_c = ctypes
_P = ctypes.POINTER


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


kat_strerror = _fn("kat_strerror", _c.c_char_p, _c.c_int)
kat_status_name = _fn("kat_status_name", _c.c_char_p, _c.c_int)
kat_version = _fn("kat_version", _c.c_char_p)
kat_default_model_path = _fn("kat_default_model_path", _c.c_char_p)
kat_ep_profile_preset = _fn("kat_ep_profile_preset", _c.c_int, _c.c_char_p, _P(EpProfile))
kat_ep_profile_set = _fn("kat_ep_profile_set", _c.c_int, _P(EpProfile), _c.c_int, _c.c_char_p,
                         _c.c_char_p)
kat_ep_profile_share_cores = _fn("kat_ep_profile_share_cores", _c.c_int, _P(EpProfile), _c.c_int,
                                 _c.c_int)
kat_selection_parse = _fn("kat_selection_parse", _c.c_int, _c.c_char_p)
kat_system_info_get = _fn("kat_system_info_get", _c.c_int, _P(SystemInfo))
kat_ep_check = _fn("kat_ep_check", _c.c_int, _c.c_int, _c.c_char_p, _c.c_size_t)

kat_tracker_options_init = _fn("kat_tracker_options_init", None, _P(TrackerOptions))
kat_tracker_create = _fn("kat_tracker_create", _c.c_int, _c.c_char_p, _P(TrackerOptions),
                         _P(_c.c_void_p), _c.c_char_p, _c.c_size_t)
kat_tracker_destroy = _fn("kat_tracker_destroy", None, _c.c_void_p)
kat_tracker_start = _fn("kat_tracker_start", _c.c_int, _c.c_void_p, _P(Frame),
                        _P(_c.c_double * 4), _P(TrackResult))
kat_tracker_step = _fn("kat_tracker_step", _c.c_int, _c.c_void_p, _P(Frame), _P(TrackResult))
kat_tracker_create_on_model = _fn("kat_tracker_create_on_model", _c.c_int, _c.c_void_p,
                                  _P(TrackerOptions), _P(_c.c_void_p), _c.c_char_p,
                                  _c.c_size_t)
kat_tracker_reset = _fn("kat_tracker_reset", _c.c_int, _c.c_void_p, _c.c_int, _c.c_int)
kat_prompt_init = _fn("kat_prompt_init", None, _P(Prompt))
kat_tracker_add_prompt = _fn("kat_tracker_add_prompt", _c.c_int, _c.c_void_p, _c.c_int,
                             _c.c_int64, _P(Prompt))
kat_tracker_remove_object = _fn("kat_tracker_remove_object", _c.c_int, _c.c_void_p, _c.c_int)
kat_tracker_track = _fn("kat_tracker_track", _c.c_int, _c.c_void_p, _P(Frame), _P(TrackResult),
                        _c.c_int, _P(_c.c_int))
kat_tracker_object_count = _fn("kat_tracker_object_count", _c.c_int, _c.c_void_p)
kat_model_options_init = _fn("kat_model_options_init", None, _P(ModelOptions))
kat_model_open = _fn("kat_model_open", _c.c_int, _c.c_char_p, _P(ModelOptions),
                     _P(_c.c_void_p), _c.c_char_p, _c.c_size_t)
kat_model_release = _fn("kat_model_release", None, _c.c_void_p)
kat_model_supports_mask_input = _fn("kat_model_supports_mask_input", _c.c_int, _c.c_void_p)
kat_tracker_last_error = _fn("kat_tracker_last_error", _c.c_char_p, _c.c_void_p)
kat_tracker_image_size = _fn("kat_tracker_image_size", _c.c_int, _c.c_void_p)

kat_source_options_init = _fn("kat_source_options_init", None, _P(SourceOptions))
kat_stream_options_init = _fn("kat_stream_options_init", None, _P(StreamOptions))
kat_stream_open = _fn("kat_stream_open", _c.c_int, _c.c_char_p, _c.c_char_p,
                      _P(_c.c_double * 4), _P(StreamOptions), _P(_c.c_void_p), _c.c_char_p,
                      _c.c_size_t)
kat_stream_open_on_model = _fn("kat_stream_open_on_model", _c.c_int, _c.c_void_p, _c.c_char_p,
                               _P(_c.c_double * 4), _P(StreamOptions), _P(_c.c_void_p),
                               _c.c_char_p, _c.c_size_t)
kat_stream_add_prompt = _fn("kat_stream_add_prompt", _c.c_int, _c.c_void_p, _c.c_int,
                            _c.c_int64, _P(Prompt))
kat_stream_remove_object = _fn("kat_stream_remove_object", _c.c_int, _c.c_void_p, _c.c_int,
                               _c.c_int64)
kat_stream_prompt_error = _fn("kat_stream_prompt_error", _c.c_char_p, _c.c_void_p)
kat_stream_next_objects = _fn("kat_stream_next_objects", _c.c_int, _c.c_void_p, _P(TrackResult),
                              _c.c_int, _P(_c.c_int), _c.c_int)
kat_stream_push = _fn("kat_stream_push", _c.c_int, _c.c_void_p, _P(Frame))
kat_stream_try_push = _fn("kat_stream_try_push", _c.c_int, _c.c_void_p, _P(Frame))
kat_stream_push_error = _fn("kat_stream_push_error", _c.c_char_p, _c.c_void_p)
kat_stream_end = _fn("kat_stream_end", _c.c_int, _c.c_void_p)
kat_stream_next = _fn("kat_stream_next", _c.c_int, _c.c_void_p, _P(TrackResult))
kat_stream_last_error = _fn("kat_stream_last_error", _c.c_char_p, _c.c_void_p)
kat_stream_source_info = _fn("kat_stream_source_info", None, _c.c_void_p, _P(SourceInfo))
kat_stream_get_stats = _fn("kat_stream_get_stats", _c.c_int, _c.c_void_p, _P(StreamStats))
kat_stream_cancel = _fn("kat_stream_cancel", None, _c.c_void_p)
kat_stream_close = _fn("kat_stream_close", None, _c.c_void_p)
