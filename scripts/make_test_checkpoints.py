#!/usr/bin/env python3
"""Writes the tiny PyTorch checkpoints the importer's tests read (standard library only).

Neither torch nor numpy is needed: small stand-ins for torch's classes and functions are
registered under torch's module names, so `pickle` writes exactly the GLOBAL references
`torch.save` writes (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`, `torch.Size`,
`collections.OrderedDict`, ...), and the container layouts are written by hand.

Run from the crate root:  python3 scripts/make_test_checkpoints.py
Outputs (tests/fixtures/checkpoints/, a few KB in all):

* legacy_authors_layout.pth -- legacy format (five pickles + raw storages, as torch 1.1 and
  `_use_new_zipfile_serialization=False` write), mimicking the authors' files:
  {'epoch': '3', 'model_name': None, 'model_weights': OrderedDict, 'optimizer_state': dict,
   'lrate': 1e-05, 'anchor_generator': <models.mask_net.rpn_segmentation.AnchorGenerator>}.
  The anchor generator is pickled with protocol 2 (NEWOBJ + BUILD); its class is announced by
  a 4-field ('module', class, source file, source) persistent id, its __dict__ holds a set, an
  OrderedDict, tuples, a list of tensors and a dict keyed by a tuple of torch.Size objects.
* zip_authors_layout.pth -- the same object in the zip format, with modern torchvision names
  (`backbone.fpn.inner_blocks.0.0.weight`, `roi_heads.mask_head.0.0.bias`), a `module.`
  (DataParallel) prefix on every key, and one tensor wrapped in `_rebuild_parameter`.
* legacy_complex_weight.pth -- a bare state dict whose second tensor is complex64.
* legacy_no_weights.pth -- a legacy file holding {'epoch': 3, 'note': ...} and no tensors.
* zip_state_dict_key.pth -- {'state_dict': {...}, 'epoch': 5} in the zip format.

Weights (canonical name, storage type, shape, stride, offset). Element j of storage k holds
value(k, j) = (k + 1) * 0.5 + (j - 7) * 0.125, exact in float16/bfloat16/float32/float64:

  backbone.body.conv1.weight           storage 0 Float  [4,3,2,2] contiguous
  backbone.body.bn1.weight             storage 1 Float  [4] offset 0  } one storage of 12
  backbone.body.bn1.bias               storage 1 Float  [4] offset 4  } shared by two views
  backbone.body.bn1.num_batches_tracked storage 2 Long  []  value 7 (skipped by the importer)
  backbone.fpn.inner_blocks.0.weight   storage 3 Float  [2,4,1,1] contiguous
  roi_heads.box_head.fc6.weight        storage 4 Float  [3,5] stride (1,3) offset 2 (of 17)
  s2new.temperature                    storage 5 Float  [] (0-dim)
  roi_heads.mask_head.mask_fcn1.bias   storage 6 Half   [3]
  rpn.head.conv.bias                   storage 7 BFloat16 [2]
  rpn.head.cls_logits.bias             storage 8 Double [3]

The optimizer state holds a complex64 tensor (storage 9), and the anchor generator two float
tensors (storages 10, 11): none of them may be converted by the importer.
"""

import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "checkpoints"


def value(k, j):
    return (k + 1) * 0.5 + (j - 7) * 0.125


# ---- stand-ins registered under torch's and the authors' module names -------------------

def _module(name):
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


torch = _module("torch")
torch_utils = _module("torch._utils")
torch._utils = torch_utils
_module("models")
_module("models.mask_net")
rpn_segmentation = _module("models.mask_net.rpn_segmentation")


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


def _rebuild_parameter(*args):
    raise NotImplementedError


for _function in (_rebuild_tensor_v2, _rebuild_parameter):
    _function.__module__ = "torch._utils"
    setattr(torch_utils, _function.__name__, _function)

# storage class name -> (struct format of one element, element byte size)
STORAGE_FORMATS = {
    "FloatStorage": "<f",
    "DoubleStorage": "<d",
    "HalfStorage": "<e",
    "LongStorage": "<q",
    "BFloat16Storage": None,
    "ComplexFloatStorage": "<ff",
}
for _name in STORAGE_FORMATS:
    setattr(torch, _name, type(_name, (), {"__module__": "torch"}))


class Size(tuple):
    def __reduce__(self):
        return (Size, (tuple(self),))


Size.__module__ = "torch"
Size.__qualname__ = "Size"
torch.Size = Size


class ModuleBase:
    """Stands for torch.nn.Module (the legacy saver announces subclasses by persistent id)."""


class AnchorGenerator(ModuleBase):
    pass


AnchorGenerator.__module__ = "models.mask_net.rpn_segmentation"
rpn_segmentation.AnchorGenerator = AnchorGenerator


class Storage:
    def __init__(self, kind, key, values):
        self.kind, self.key, self.values = kind, str(key), values

    def raw(self):
        fmt = STORAGE_FORMATS[self.kind]
        if self.kind == "BFloat16Storage":
            return b"".join(struct.pack("<f", v)[2:] for v in self.values)
        if self.kind == "ComplexFloatStorage":
            return b"".join(struct.pack(fmt, v, -v) for v in self.values)
        return b"".join(struct.pack(fmt, v) for v in self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())
        self.parameter = parameter

    def __reduce__(self):
        plain = (_rebuild_tensor_v2, self.args)
        if self.parameter:
            return (_rebuild_parameter, (_Plain(plain), True, OrderedDict()))
        return plain


class _Plain:
    def __init__(self, reduced):
        self.reduced = reduced

    def __reduce__(self):
        return self.reduced


def storage(kind, key, count):
    if kind == "LongStorage":
        return Storage(kind, key, [7] * count)
    return Storage(kind, key, [value(key, j) for j in range(count)])


def contiguous(st, size, offset=0, parameter=False):
    stride, acc = [], 1
    for d in reversed(size):
        stride.insert(0, acc)
        acc *= d
    return Tensor(st, offset, size, stride, parameter)


# ---- the authors' checkpoint layout ------------------------------------------------------

def authors_checkpoint(modern):
    s = [storage("FloatStorage", 0, 48), storage("FloatStorage", 1, 12),
         storage("LongStorage", 2, 1), storage("FloatStorage", 3, 8),
         storage("FloatStorage", 4, 17), storage("FloatStorage", 5, 1),
         storage("HalfStorage", 6, 3), storage("BFloat16Storage", 7, 2),
         storage("DoubleStorage", 8, 3), storage("ComplexFloatStorage", 9, 2),
         storage("FloatStorage", 10, 8), storage("FloatStorage", 11, 12)]
    prefix = "module." if modern else ""
    fpn = "backbone.fpn.inner_blocks.0.0.weight" if modern else "backbone.fpn.inner_blocks.0.weight"
    mask = "roi_heads.mask_head.0.0.bias" if modern else "roi_heads.mask_head.mask_fcn1.bias"
    weights = OrderedDict([
        ("backbone.body.conv1.weight", contiguous(s[0], [4, 3, 2, 2], parameter=modern)),
        ("backbone.body.bn1.weight", contiguous(s[1], [4])),
        ("backbone.body.bn1.bias", contiguous(s[1], [4], offset=4)),
        ("backbone.body.bn1.num_batches_tracked", contiguous(s[2], [])),
        (fpn, contiguous(s[3], [2, 4, 1, 1])),
        ("roi_heads.box_head.fc6.weight", Tensor(s[4], 2, [3, 5], [1, 3])),
        ("s2new.temperature", contiguous(s[5], [])),
        (mask, contiguous(s[6], [3])),
        ("rpn.head.conv.bias", contiguous(s[7], [2])),
        ("rpn.head.cls_logits.bias", contiguous(s[8], [3])),
    ])
    weights = OrderedDict((prefix + k, v) for k, v in weights.items())
    weights._metadata = OrderedDict([("", {"version": 1}), ("backbone.fpn", {"version": 1})])

    anchors = AnchorGenerator()
    anchors.__dict__.update({
        "training": False,
        "_parameters": OrderedDict(),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(),
        "_is_full_backward_hook": None,
        "sizes": ((2, 4), (8,)),
        "aspect_ratios": ((0.5, 1, 2.0),),
        "cell_anchors": [contiguous(s[10], [2, 4])],
        "_cache": {(Size([4, 4]), Size([2, 2]), (4.0, 4.0)): [contiguous(s[11], [3, 4])]},
    })
    optimizer = {
        "state": {0: {"step": 3, "exp_avg": contiguous(s[9], [2])}},
        "param_groups": [{"lr": 1e-05, "betas": (0.9, 0.999), "params": [0, 1, 2]}],
    }
    return {"epoch": "3", "model_name": None, "model_weights": weights,
            "optimizer_state": optimizer, "lrate": 1e-05, "anchor_generator": anchors}


# ---- the two container formats -----------------------------------------------------------

class TorchPickler(pickle.Pickler):
    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy, self.storages, self.announced = legacy, {}, set()

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            pid = ("storage", getattr(torch, obj.kind), obj.key, "cpu", len(obj.values))
            return pid + (None,) if self.legacy else pid
        if self.legacy and isinstance(obj, type) and issubclass(obj, ModuleBase):
            if obj not in self.announced:
                self.announced.add(obj)
                return ("module", obj, "models/mask_net/rpn_segmentation.py",
                        "class AnchorGenerator(nn.Module): ...")
        return None


def legacy_bytes(obj):
    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    pickler = TorchPickler(out, legacy=True)
    pickler.dump(obj)
    keys = sorted(pickler.storages)
    pickle.dump(keys, out, protocol=2)
    for key in keys:
        st = pickler.storages[key]
        out.write(struct.pack("<q", len(st.values)))
        out.write(st.raw())
    return out.getvalue()


def zip_bytes(obj, stem):
    data = io.BytesIO()
    pickler = TorchPickler(data, legacy=False)
    pickler.dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:

        def add(name, payload):
            # A fixed timestamp keeps the output byte-for-byte reproducible.
            archive.writestr(zipfile.ZipInfo(f"{stem}/{name}", (1980, 1, 1, 0, 0, 0)), payload)

        add("data.pkl", data.getvalue())
        add("byteorder", "little")
        for key, st in sorted(pickler.storages.items()):
            add(f"data/{key}", st.raw())
        add("version", "3\n")
    return out.getvalue()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    complex_weights = OrderedDict([
        ("fc.weight", contiguous(storage("FloatStorage", 0, 4), [2, 2])),
        ("fc.rotation", contiguous(storage("ComplexFloatStorage", 1, 2), [2])),
    ])
    state_dict_key = {"state_dict": {"fc.bias": contiguous(storage("HalfStorage", 0, 3), [3])},
                      "epoch": 5}
    files = {
        "legacy_authors_layout.pth": legacy_bytes(authors_checkpoint(modern=False)),
        "zip_authors_layout.pth": zip_bytes(authors_checkpoint(modern=True), "zip_authors_layout"),
        "legacy_complex_weight.pth": legacy_bytes(complex_weights),
        "legacy_no_weights.pth": legacy_bytes({"epoch": 3, "note": "no weights here"}),
        "zip_state_dict_key.pth": zip_bytes(state_dict_key, "zip_state_dict_key"),
    }
    for name, payload in files.items():
        (OUT / name).write_bytes(payload)
        print(f"{name}: {len(payload)} bytes")


if __name__ == "__main__":
    main()
