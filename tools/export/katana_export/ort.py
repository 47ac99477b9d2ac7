"""Minimal ctypes binding to the ONNX Runtime C API (CPU execution provider only).

    from katana_export.ort import Session
    s = Session("bundle/mask_decoder.onnx", threads=1)
    s.inputs   # [TensorSpec(name, dtype, shape)], shape entries int or str (symbolic) or None
    out = s.run({"image_embed": x, ...})   # dict name -> np.ndarray (copies)

The library is third_party/onnxruntime/lib/libonnxruntime.so.1 unless the environment variable
KAT_ORT_LIB names another file. The OrtApi struct is a table of function pointers; the slot of each
function is found by parsing `struct OrtApi { ... }` of the bundled C header in declaration order
(KAT_ORT_HEADER overrides the header path). Every OrtStatus is checked, released, and turned into an
OrtError carrying ONNX Runtime's message.
"""

import ctypes
import os
import re
from collections import namedtuple

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))
_DEFAULT_LIB = os.path.join(_ROOT, "third_party", "onnxruntime", "lib", "libonnxruntime.so.1")
_DEFAULT_HDR = os.path.join(_ROOT, "third_party", "onnxruntime", "include", "onnxruntime_c_api.h")

TensorSpec = namedtuple("TensorSpec", "name dtype shape")

# ONNXTensorElementDataType -> numpy dtype
_ELEM_TO_NP = {
    1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
    9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64,
}
_NP_TO_ELEM = {np.dtype(v): k for k, v in _ELEM_TO_NP.items()}

_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_SZ = ctypes.c_size_t

# name -> (restype, argtypes); statuses are returned as void*.
_SIGS = {
    "GetErrorMessage": (ctypes.c_char_p, [_P]),
    "ReleaseStatus": (None, [_P]),
    "CreateEnv": (_P, [ctypes.c_int, ctypes.c_char_p, _PP]),
    "CreateSessionOptions": (_P, [_PP]),
    "SetIntraOpNumThreads": (_P, [_P, ctypes.c_int]),
    "SetInterOpNumThreads": (_P, [_P, ctypes.c_int]),
    "SetSessionGraphOptimizationLevel": (_P, [_P, ctypes.c_int]),
    "ReleaseSessionOptions": (None, [_P]),
    "CreateSession": (_P, [_P, ctypes.c_char_p, _P, _PP]),
    "ReleaseSession": (None, [_P]),
    "SessionGetInputCount": (_P, [_P, ctypes.POINTER(_SZ)]),
    "SessionGetOutputCount": (_P, [_P, ctypes.POINTER(_SZ)]),
    "SessionGetInputName": (_P, [_P, _SZ, _P, ctypes.POINTER(ctypes.c_void_p)]),
    "SessionGetOutputName": (_P, [_P, _SZ, _P, ctypes.POINTER(ctypes.c_void_p)]),
    "SessionGetInputTypeInfo": (_P, [_P, _SZ, _PP]),
    "SessionGetOutputTypeInfo": (_P, [_P, _SZ, _PP]),
    "CastTypeInfoToTensorInfo": (_P, [_P, _PP]),
    "ReleaseTypeInfo": (None, [_P]),
    "GetTensorElementType": (_P, [_P, ctypes.POINTER(ctypes.c_int)]),
    "GetDimensionsCount": (_P, [_P, ctypes.POINTER(_SZ)]),
    "GetDimensions": (_P, [_P, ctypes.POINTER(ctypes.c_int64), _SZ]),
    "GetSymbolicDimensions": (_P, [_P, ctypes.POINTER(ctypes.c_char_p), _SZ]),
    "GetAllocatorWithDefaultOptions": (_P, [_PP]),
    "AllocatorFree": (_P, [_P, _P]),
    "CreateCpuMemoryInfo": (_P, [ctypes.c_int, ctypes.c_int, _PP]),
    "ReleaseMemoryInfo": (None, [_P]),
    "CreateTensorWithDataAsOrtValue": (_P, [_P, _P, _SZ, ctypes.POINTER(ctypes.c_int64), _SZ,
                                            ctypes.c_int, _PP]),
    "Run": (_P, [_P, _P, ctypes.POINTER(ctypes.c_char_p), _PP, _SZ,
                 ctypes.POINTER(ctypes.c_char_p), _SZ, _PP]),
    "GetTensorMutableData": (_P, [_P, _PP]),
    "GetTensorTypeAndShape": (_P, [_P, _PP]),
    "ReleaseTensorTypeAndShapeInfo": (None, [_P]),
    "ReleaseValue": (None, [_P]),
}


class OrtError(RuntimeError):
    """An error reported by ONNX Runtime (or by this binding while talking to it)."""


def _api_slots(header):
    """Returns ({member name: slot index}, ORT_API_VERSION) parsed from the C header."""
    with open(header, "r", encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = re.search(r"#define\s+ORT_API_VERSION\s+(\d+)", text)
    if not m:
        raise OrtError("%s: no ORT_API_VERSION" % header)
    version = int(m.group(1))
    start = text.find("\nstruct OrtApi {")
    if start < 0:
        raise OrtError("%s: no 'struct OrtApi {'" % header)
    end = text.find("\n};", start)
    body = text[start + len("\nstruct OrtApi {"):end]
    body = re.sub(r"/\*.*?\*/", " ", body, flags=re.S)
    body = re.sub(r"//[^\n]*", " ", body)
    if re.search(r"^\s*#", body, flags=re.M):
        raise OrtError("%s: preprocessor lines inside struct OrtApi; cannot count slots" % header)
    slots = {}
    idx = 0
    for stmt in body.split(";"):
        s = stmt.strip()
        if not s:
            continue
        m = (re.match(r"ORT_API2_STATUS\(\s*(\w+)", s) or re.match(r"ORT_API_T\([^,]*,\s*(\w+)", s))
        if m:
            name = m.group(1)
        else:
            m = re.match(r"ORT_CLASS_RELEASE2?\(\s*(\w+)\s*\)", s)
            if m:
                name = "Release" + m.group(1)
            else:
                m = re.search(r"\(\s*ORT_API_CALL\s*\*\s*(\w+)\s*\)", s)
                if not m:
                    raise OrtError("%s: cannot parse OrtApi member %r" % (header, s[:80]))
                name = m.group(1)
        slots.setdefault(name, idx)
        idx += 1
    return slots, version


class _Api:
    def __init__(self):
        lib_path = os.environ.get("KAT_ORT_LIB") or _DEFAULT_LIB
        hdr_path = os.environ.get("KAT_ORT_HEADER") or _DEFAULT_HDR
        if not os.path.isfile(lib_path):
            raise OrtError("ONNX Runtime library not found: %s (set KAT_ORT_LIB)" % lib_path)
        try:
            self.lib = ctypes.CDLL(lib_path)
        except OSError as e:
            raise OrtError("cannot load ONNX Runtime library %s: %s" % (lib_path, e))
        slots, version = _api_slots(hdr_path)
        get_base = self.lib.OrtGetApiBase
        get_base.restype = ctypes.POINTER(ctypes.c_void_p)
        get_base.argtypes = []
        base = get_base()
        if not base:
            raise OrtError("OrtGetApiBase returned NULL")
        # struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); }
        get_api = ctypes.CFUNCTYPE(_P, ctypes.c_uint32)(base[0])
        get_ver = ctypes.CFUNCTYPE(ctypes.c_char_p)(base[1])
        self.version_string = get_ver().decode()
        api = get_api(version)
        if not api:
            raise OrtError("ONNX Runtime %s does not provide API version %d (%s)"
                           % (self.version_string, version, lib_path))
        table = ctypes.cast(api, ctypes.POINTER(ctypes.c_void_p))
        for name, (res, args) in _SIGS.items():
            if name not in slots:
                raise OrtError("OrtApi member %s not found in %s" % (name, hdr_path))
            addr = table[slots[name]]
            if not addr:
                raise OrtError("OrtApi slot %s is NULL" % name)
            setattr(self, name, ctypes.CFUNCTYPE(res, *args)(addr))
        env = ctypes.c_void_p()
        self.check(self.CreateEnv(3, b"katana_export", ctypes.byref(env)))  # ERROR level
        self.env = env
        alloc = ctypes.c_void_p()
        self.check(self.GetAllocatorWithDefaultOptions(ctypes.byref(alloc)))
        self.allocator = alloc
        mi = ctypes.c_void_p()
        self.check(self.CreateCpuMemoryInfo(1, 0, ctypes.byref(mi)))  # arena, default mem type
        self.meminfo = mi

    def check(self, status, what=""):
        if status:
            msg = self.GetErrorMessage(status)
            msg = msg.decode("utf-8", "replace") if msg else "(no message)"
            self.ReleaseStatus(status)
            raise OrtError((what + ": " if what else "") + msg)


_API = None


def api():
    """The process-wide binding (loads the library on first use)."""
    global _API
    if _API is None:
        _API = _Api()
    return _API


def version():
    return api().version_string


def _tensor_spec(a, name, typeinfo):
    try:
        tinfo = ctypes.c_void_p()
        a.check(a.CastTypeInfoToTensorInfo(typeinfo, ctypes.byref(tinfo)), name)
        if not tinfo:
            raise OrtError("%s: not a tensor" % name)
        et = ctypes.c_int()
        a.check(a.GetTensorElementType(tinfo, ctypes.byref(et)), name)
        n = _SZ()
        a.check(a.GetDimensionsCount(tinfo, ctypes.byref(n)), name)
        dims = (ctypes.c_int64 * max(n.value, 1))()
        a.check(a.GetDimensions(tinfo, dims, n.value), name)
        syms = (ctypes.c_char_p * max(n.value, 1))()
        a.check(a.GetSymbolicDimensions(tinfo, syms, n.value), name)
        shape = []
        for i in range(n.value):
            if dims[i] >= 0:
                shape.append(int(dims[i]))
            else:
                shape.append(syms[i].decode() if syms[i] else None)
        dt = _ELEM_TO_NP.get(et.value)
        return TensorSpec(name, np.dtype(dt).name if dt else "elem%d" % et.value, shape)
    finally:
        a.ReleaseTypeInfo(typeinfo)


class Session:
    """One ONNX Runtime inference session on the CPU execution provider."""

    def __init__(self, path, threads=1, optimize=True):
        a = api()
        self._a = a
        self._sess = None
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError("ONNX model not found: %s" % path)
        opts = ctypes.c_void_p()
        a.check(a.CreateSessionOptions(ctypes.byref(opts)), "CreateSessionOptions")
        try:
            a.check(a.SetIntraOpNumThreads(opts, int(threads)), "SetIntraOpNumThreads")
            a.check(a.SetInterOpNumThreads(opts, 1), "SetInterOpNumThreads")
            a.check(a.SetSessionGraphOptimizationLevel(opts, 99 if optimize else 0),
                    "SetSessionGraphOptimizationLevel")
            sess = ctypes.c_void_p()
            a.check(a.CreateSession(a.env, path.encode(), opts, ctypes.byref(sess)),
                    "loading %s" % path)
            self._sess = sess
        finally:
            a.ReleaseSessionOptions(opts)
        self.path = path
        self.inputs = self._specs(a.SessionGetInputCount, a.SessionGetInputName,
                                  a.SessionGetInputTypeInfo)
        self.outputs = self._specs(a.SessionGetOutputCount, a.SessionGetOutputName,
                                   a.SessionGetOutputTypeInfo)

    def _specs(self, count_fn, name_fn, type_fn):
        a = self._a
        n = _SZ()
        a.check(count_fn(self._sess, ctypes.byref(n)))
        specs = []
        for i in range(n.value):
            p = ctypes.c_void_p()
            a.check(name_fn(self._sess, i, a.allocator, ctypes.byref(p)))
            name = ctypes.string_at(p.value).decode()
            a.check(a.AllocatorFree(a.allocator, p))
            ti = ctypes.c_void_p()
            a.check(type_fn(self._sess, i, ctypes.byref(ti)), name)
            specs.append(_tensor_spec(a, name, ti))
        return specs

    def run(self, feeds, outputs=None):
        """Runs the graph. feeds: dict name -> array-like; returns dict name -> np.ndarray."""
        a = self._a
        if self._sess is None:
            raise OrtError("session is closed")
        known = {s.name: s for s in self.inputs}
        for k in feeds:
            if k not in known:
                raise OrtError("%s: unknown input %r (inputs: %s)"
                               % (self.path, k, ", ".join(known)))
        missing = [k for k in known if k not in feeds]
        if missing:
            raise OrtError("%s: missing inputs %s" % (self.path, ", ".join(missing)))
        out_names = list(outputs) if outputs else [s.name for s in self.outputs]
        keep = []
        in_vals = (ctypes.c_void_p * len(known))()
        in_names = (ctypes.c_char_p * len(known))()
        out_vals = (ctypes.c_void_p * len(out_names))()
        out_cnames = (ctypes.c_char_p * len(out_names))(*[n.encode() for n in out_names])
        try:
            for i, spec in enumerate(self.inputs):
                arr = np.ascontiguousarray(feeds[spec.name], dtype=np.dtype(spec.dtype))
                keep.append(arr)
                shape = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
                v = ctypes.c_void_p()
                a.check(a.CreateTensorWithDataAsOrtValue(
                    a.meminfo, arr.ctypes.data_as(ctypes.c_void_p), arr.nbytes, shape, arr.ndim,
                    _NP_TO_ELEM[arr.dtype], ctypes.byref(v)), spec.name)
                in_vals[i] = v.value
                in_names[i] = spec.name.encode()
            a.check(a.Run(self._sess, None, in_names, in_vals, len(known), out_cnames,
                          len(out_names), out_vals), "running %s" % self.path)
            result = {}
            for i, name in enumerate(out_names):
                result[name] = self._to_numpy(out_vals[i], name)
            return result
        finally:
            for v in in_vals:
                if v:
                    a.ReleaseValue(v)
            for v in out_vals:
                if v:
                    a.ReleaseValue(v)

    def _to_numpy(self, value, name):
        a = self._a
        info = ctypes.c_void_p()
        a.check(a.GetTensorTypeAndShape(value, ctypes.byref(info)), name)
        try:
            et = ctypes.c_int()
            a.check(a.GetTensorElementType(info, ctypes.byref(et)), name)
            n = _SZ()
            a.check(a.GetDimensionsCount(info, ctypes.byref(n)), name)
            dims = (ctypes.c_int64 * max(n.value, 1))()
            a.check(a.GetDimensions(info, dims, n.value), name)
        finally:
            a.ReleaseTensorTypeAndShapeInfo(info)
        if et.value not in _ELEM_TO_NP:
            raise OrtError("%s: unsupported output element type %d" % (name, et.value))
        shape = tuple(int(dims[i]) for i in range(n.value))
        out = np.empty(shape, dtype=_ELEM_TO_NP[et.value])
        if out.nbytes:
            p = ctypes.c_void_p()
            a.check(a.GetTensorMutableData(value, ctypes.byref(p)), name)
            ctypes.memmove(out.ctypes.data, p.value, out.nbytes)
        return out

    def close(self):
        if self._sess is not None:
            self._a.ReleaseSession(self._sess)
            self._sess = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
