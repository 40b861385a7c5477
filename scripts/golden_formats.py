#!/usr/bin/python3
"""Writes the file-format fixtures the Go tests read: .npy files saved by
NumPy itself (every supported dtype, header versions 1-3, Fortran order,
big-endian), safetensors files built from the format's specification, MNIST
idx files, and the seed corpora of the fuzz targets (valid and broken files).

Run once from the repository root with Debian's python3 (numpy installed):

    /usr/bin/python3 scripts/golden_formats.py

Outputs: testdata/data/npy/, testdata/data/safetensors/, testdata/data/idx/,
tensor/testdata/fuzz/Fuzz*/, halo/testdata/fuzz/FuzzReadIDX/.
"""
import gzip
import io
import json
import os
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def path(*p):
    full = os.path.join(ROOT, *p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def values(dtype, shape):
    """Deterministic contents with negative, fractional and extreme values."""
    n = int(np.prod(shape)) if len(shape) else 1
    k = np.arange(n, dtype=np.float64)
    if dtype == np.uint8:
        v = (k * 37 + 11) % 256
    elif dtype == np.int64:
        v = (k * 7919 - 3) * (-1) ** k
        v = v.astype(np.int64)
        if n > 2:
            v[1] = np.iinfo(np.int64).max
            v[2] = np.iinfo(np.int64).min
        return v.reshape(shape)
    else:
        v = np.sin(k * 0.7) * 10 ** ((k % 7) - 3)
        if n > 3:
            v[1] = np.inf
            v[2] = -0.0
            v[3] = np.finfo(dtype).tiny
    return v.astype(dtype).reshape(shape)


# ---- .npy ----
npy_cases = []


def save_npy(name, arr, version=None, fortran=False):
    arr = np.asfortranarray(arr) if fortran else np.ascontiguousarray(arr)
    with open(path("testdata", "data", "npy", name), "wb") as f:
        if version is None:
            np.save(f, arr)
        else:
            np.lib.format.write_array(f, arr, version=version)
    c = np.ascontiguousarray(arr)
    if c.dtype.kind == "f":
        flat = [repr(float(x)) for x in c.astype(np.float64).ravel()]
    else:
        flat = [str(int(x)) for x in c.ravel()]
    npy_cases.append({"file": name, "dtype": str(c.dtype.newbyteorder("=")) if c.dtype.byteorder == ">" else str(c.dtype),
                      "shape": list(c.shape), "values": flat})


for dt, tag in [(np.float32, "f4"), (np.float64, "f8"), (np.uint8, "u1"), (np.int64, "i8")]:
    for shape in [(), (5,), (2, 3), (2, 3, 4), (0, 3)]:
        s = "x".join(map(str, shape)) or "scalar"
        save_npy(f"{tag}_{s}.npy", values(dt, shape))
save_npy("f4_2x3x4_v2.npy", values(np.float32, (2, 3, 4)), version=(2, 0))
save_npy("f4_2x3x4_v3.npy", values(np.float32, (2, 3, 4)), version=(3, 0))
save_npy("f8_3x4_fortran.npy", values(np.float64, (3, 4)), fortran=True)
save_npy("u1_2x3x4_fortran.npy", values(np.uint8, (2, 3, 4)), fortran=True)
save_npy("f4_2x3_big.npy", values(np.float32, (2, 3)).astype(">f4"))
save_npy("i8_4_big.npy", values(np.int64, (4,)).astype(">i8"))
# A header that needs the version 2 length field (more than 65535 bytes of dict
# is impractical; numpy chooses v2 only then) is covered by the v2 file above.

# Arrays whose exact NumPy bytes the Go writer must reproduce.
for dt, tag in [(np.float32, "f4"), (np.float64, "f8"), (np.uint8, "u1"), (np.int64, "i8")]:
    for shape in [(), (7,), (3, 5), (1, 2, 3, 4), (12345678901, 0)]:
        s = "x".join(map(str, shape)) or "scalar"
        if 0 in shape:
            arr = np.zeros(shape, dtype=dt)
        else:
            arr = values(dt, shape)
        buf = io.BytesIO()
        np.save(buf, arr)
        with open(path("testdata", "data", "npy", "write", f"{tag}_{s}.npy"), "wb") as f:
            f.write(buf.getvalue())

with open(path("testdata", "data", "npy", "expected.json"), "w") as f:
    json.dump(npy_cases, f, indent=0)

# ---- safetensors (format specification: 8-byte LE header length, JSON, data) ----
ST_DT = {np.dtype(np.float32): ("F32", 4), np.dtype(np.float64): ("F64", 8),
         np.dtype(np.uint8): ("U8", 1), np.dtype(np.int64): ("I64", 8)}


def safetensors_bytes(tensors, metadata=None, order=None, pad=True):
    """Layout as the reference writer: data sorted by (alignment desc, name),
    compact JSON, header padded with spaces to a multiple of 8."""
    names = order or sorted(tensors, key=lambda n: (-ST_DT[tensors[n].dtype][1], n))
    header, off, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for n in names:
        a = np.array(tensors[n], order="C")
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[n] = {"dtype": ST_DT[a.dtype][0], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


st_cases = []


def save_st(name, tensors, metadata=None):
    data = safetensors_bytes(tensors, metadata)
    with open(path("testdata", "data", "safetensors", name), "wb") as f:
        f.write(data)
    case = {"file": name, "metadata": metadata or {}, "tensors": {}}
    for n, a in tensors.items():
        flat = [repr(float(x)) for x in a.astype(np.float64).ravel()] if a.dtype.kind == "f" else [str(int(x)) for x in a.ravel()]
        case["tensors"][n] = {"dtype": ST_DT[a.dtype][0], "shape": list(a.shape), "values": flat}
    st_cases.append(case)
    return data


st_model = save_st("model.safetensors", {
    "encoder.conv1.weight": values(np.float32, (4, 3, 2, 2)),
    "encoder.conv1.bias": values(np.float32, (4,)),
    "operator.W": values(np.float64, (2, 2)),
    "step": np.array(1234567, dtype=np.int64),
    "mask": values(np.uint8, (3, 5)),
    "empty": np.zeros((0, 4), dtype=np.float32),
}, metadata={"format": "pt", "preset": "balls"})
save_st("single.safetensors", {"x": values(np.float32, (2, 3))})
with open(path("testdata", "data", "safetensors", "expected.json"), "w") as f:
    json.dump(st_cases, f, indent=0)


def raw_st(header_obj, data, hlen=None):
    text = json.dumps(header_obj, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text) if hlen is None else hlen) + text + data


x6 = values(np.float32, (2, 3)).tobytes()
st_broken = {
    "truncated_data": st_model[:-5],
    "truncated_header": st_model[:20],
    "short_length": b"\x05\x00\x00",
    "huge_header_len": struct.pack("<Q", 1 << 62) + b"{}",
    "overlap": raw_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, x6[:12]),
    "gap": raw_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, x6[:8]),
    "offset_past_end": raw_st({"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, x6[:16]),
    "shape_mismatch": raw_st({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 24]}}, x6),
    "huge_shape": raw_st({"a": {"dtype": "F64", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 24]}}, x6),
    "wrong_dtype": raw_st({"a": {"dtype": "Q7", "shape": [6], "data_offsets": [0, 24]}}, x6),
    "bf16_dtype": raw_st({"a": {"dtype": "BF16", "shape": [12], "data_offsets": [0, 24]}}, x6),
    "negative_offset": raw_st({"a": {"dtype": "U8", "shape": [3], "data_offsets": [-3, 0]}}, b""),
    "not_json": struct.pack("<Q", 8) + b"not json",
    "duplicate_key": struct.pack("<Q", 98) + b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}' + b"\x01",
    "nan_data": raw_st({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, np.array([np.nan, 1, -np.inf], np.float32).tobytes()),
    "bad_metadata": raw_st({"__metadata__": {"k": 3}}, b""),
    "trailing": raw_st({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\x01\x02"),
}
# Fix the duplicate-key header length to the real text length.
dk = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
st_broken["duplicate_key"] = struct.pack("<Q", len(dk)) + dk + b"\x01"


# ---- MNIST idx ----
def idx_bytes(arr, type_code=0x08):
    head = bytes([0, 0, type_code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


idx_imgs = (np.arange(3 * 4 * 5) * 13 % 256).astype(np.uint8).reshape(3, 4, 5)
idx_labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
with open(path("testdata", "data", "idx", "images-3x4x5-idx3-ubyte"), "wb") as f:
    f.write(idx_bytes(idx_imgs))
with open(path("testdata", "data", "idx", "images-3x4x5-idx3-ubyte.gz"), "wb") as f:
    f.write(gzip.compress(idx_bytes(idx_imgs), mtime=0))
with open(path("testdata", "data", "idx", "labels-7-idx1-ubyte.gz"), "wb") as f:
    f.write(gzip.compress(idx_bytes(idx_labels), mtime=0))


# ---- fuzz seed corpora (Go's "go test fuzz v1" files) ----
def go_quote(b):
    out = []
    for c in b:
        if c == 0x22:
            out.append('\\"')
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return '"' + "".join(out) + '"'


def corpus(pkg, target, name, data):
    with open(path(pkg, "testdata", "fuzz", target, name), "w") as f:
        f.write("go test fuzz v1\n[]byte(" + go_quote(data) + ")\n")


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr)
    else:
        np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


good = npy_bytes(values(np.float32, (2, 3)))
corpus("tensor", "FuzzDecodeNPY", "valid_f4", good)
corpus("tensor", "FuzzDecodeNPY", "valid_f8_fortran", npy_bytes(np.asfortranarray(values(np.float64, (3, 2)))))
corpus("tensor", "FuzzDecodeNPY", "valid_u1_v2", npy_bytes(values(np.uint8, (4,)), (2, 0)))
corpus("tensor", "FuzzDecodeNPY", "valid_i8_big", npy_bytes(values(np.int64, (2,)).astype(">i8")))
corpus("tensor", "FuzzDecodeNPY", "valid_nan", npy_bytes(np.array([np.nan, np.inf], np.float32)))
corpus("tensor", "FuzzDecodeNPY", "truncated", good[:-3])
corpus("tensor", "FuzzDecodeNPY", "truncated_header", good[:30])
huge = good.replace(b"(2, 3)", b"(9999999999, 99999)")
corpus("tensor", "FuzzDecodeNPY", "huge_shape", huge)
corpus("tensor", "FuzzDecodeNPY", "wrong_dtype", good.replace(b"<f4", b"<c8"))
corpus("tensor", "FuzzDecodeNPY", "object_dtype", good.replace(b"'<f4'", b"'|O' "))
corpus("tensor", "FuzzDecodeNPY", "bad_version", good[:6] + b"\x09" + good[7:])
corpus("tensor", "FuzzDecodeNPY", "huge_header_len", good[:8] + b"\xff\xff" + good[10:])
for name, data in st_broken.items():
    corpus("tensor", "FuzzDecodeSafetensors", name, data)
corpus("tensor", "FuzzDecodeSafetensors", "valid_model", st_model)
corpus("tensor", "FuzzDecodeSafetensors", "valid_empty", safetensors_bytes({}))
idx_good = idx_bytes(idx_imgs)
corpus("halo", "FuzzReadIDX", "valid_images", idx_good)
corpus("halo", "FuzzReadIDX", "valid_labels_gz", gzip.compress(idx_bytes(idx_labels), mtime=0))
corpus("halo", "FuzzReadIDX", "truncated", idx_good[:-7])
corpus("halo", "FuzzReadIDX", "huge_dims", bytes([0, 0, 8, 3]) + struct.pack(">III", 60000, 28000, 28000) + b"\x00" * 16)
corpus("halo", "FuzzReadIDX", "huge_dims_gz", gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 60000, 28000, 28000) + b"\x00" * 64, mtime=0))
corpus("halo", "FuzzReadIDX", "wrong_type", bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 2) + b"\x00" * 8)
corpus("halo", "FuzzReadIDX", "bad_magic", b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00")
corpus("halo", "FuzzReadIDX", "truncated_gz", gzip.compress(idx_good, mtime=0)[:-9])
print("wrote", len(npy_cases), "npy fixtures,", len(st_cases), "safetensors fixtures and the fuzz corpora")
