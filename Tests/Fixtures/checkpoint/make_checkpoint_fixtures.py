#!/usr/bin/env python3
"""Loader edge cases for Tests/DNNTests/CheckpointTests.swift (run from the repository root,
AFTER Tests/Fixtures/make_fixtures.py, which writes the base files this script builds on):

    /tmp/py/bin/python Tests/Fixtures/checkpoint/make_checkpoint_fixtures.py

make_fixtures.py writes the base state dict (state_zip.pth, state_legacy.pth, state.safetensors,
expected_*.npy) and the first broken/hostile files. This script adds, next to them:
  - training checkpoints as the official code writes them ({'epoch', 'state_dict' with
    DataParallel 'module.' keys, 'perf' as a numpy scalar, 'optimizer'}), zip and legacy;
    a {'model': Parameters} wrapper; keys where only some start with 'module.';
  - the base state dict written by the `safetensors` package itself (an independent writer);
  - hostile pickles crafted byte by byte (GLOBAL os.system + REDUCE, STACK_GLOBAL
    builtins.eval inside a zip, a hostile global hidden in the optimizer state);
  - files that claim absurd sizes, strides, offsets or nesting (each must be a clear error,
    never a crash, a hang or a huge allocation);
  - NPY variants (big-endian, rank 0 and 1, version 2.0, a hand-written header, truncated).
Every file is small (the largest, many_keys_one_storage.pth, is ~34 KB). The tensors come from
the committed base fixtures, so the expected_*.npy files apply unchanged. Nothing here is
random except where seeded."""
import io, os, pickle, struct, zipfile
from collections import OrderedDict
import numpy as np
import torch

OUT = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), 'wb') as f:
        f.write(data)


# The base state dict (our own committed file, so weights_only loading is safe and exact).
base = torch.load(path('state_zip.pth'), weights_only=True)
assert list(base) == ['conv.weight', 'half', 'transposed', 'shared_a', 'shared_b', 'bn.num_batches_tracked']
assert not base['transposed'].is_contiguous() and base['shared_a'].untyped_storage().data_ptr() == \
    base['shared_b'].untyped_storage().data_ptr()


# ---------------------------------------------------------------- wrapped checkpoints
def training_checkpoint():
    sd = OrderedDict(('module.' + k, v) for k, v in base.items())
    momentum = {0: {'momentum_buffer': torch.zeros(2, 2)}}
    return {'epoch': 3, 'model': 'pose_hrnet', 'state_dict': sd, 'perf': np.float64(0.7),
            'optimizer': {'state': momentum, 'param_groups': [{'lr': 0.001, 'params': [0]}]}}


torch.save(training_checkpoint(), path('wrapped_zip.pth'))
torch.save(training_checkpoint(), path('wrapped_legacy.pth'), _use_new_zipfile_serialization=False)
# {'model': parameters}: tensors pickled through torch._utils._rebuild_parameter.
params = OrderedDict((k, torch.nn.Parameter(v, requires_grad=v.is_floating_point())) for k, v in base.items())
torch.save({'arch': 'tiny', 'model': params}, path('model_parameters_zip.pth'))
# Only some keys carry 'module.': nothing is stripped.
torch.save(OrderedDict([('module.a', base['shared_b']), ('b', base['half'])]), path('partial_module_zip.pth'))

# ---------------------------------------------------------------- safetensors from the package
try:
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in base.items()}, path('state_package.safetensors'), metadata={'format': 'pt'})
except ImportError:  # the base state.safetensors (hand-written) still covers the format
    pass


# ---------------------------------------------------------------- hostile pickles
def zip_archive(entries, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', compression) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))   # reproducible bytes
            info.compress_type = compression
            z.writestr(info, data)
    return buf.getvalue()


# GLOBAL 'os\nsystem' + REDUCE, the classic: os.system('echo hostile') when unpickled.
write('hostile_os_system.pkl', b'\x80\x02cos\nsystem\nq\x00X\x0c\x00\x00\x00echo hostile\x85R.')
# STACK_GLOBAL builtins.eval, inside a zip .pth (protocol 4 framing, as pickle.dumps writes it).
evil = b'\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x0b1+1\x94\x85\x94R\x94.'
write('hostile_eval_zip.pth', zip_archive([('archive/data.pkl', evil), ('archive/version', '3\n')]))
# A valid state dict whose optimizer part hides a call of posix.system: the whole pickle is
# refused even though the tensors themselves are harmless.
class Hostile:
    def __reduce__(self):
        return (os.system, ('echo hostile',))


pkl = pickle.dumps({'state_dict': OrderedDict(), 'optimizer': {'hook': Hostile()}}, protocol=2)
write('hostile_nested_zip.pth', zip_archive([('archive/data.pkl', pkl), ('archive/version', '3\n')]))

# ---------------------------------------------------------------- broken archives
with zipfile.ZipFile(path('state_zip.pth')) as z:
    entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
write('deflated_zip.pth', zip_archive(entries, zipfile.ZIP_DEFLATED))
write('big_endian_zip.pth', zip_archive([(n, b'big' if n.endswith('/byteorder') else d) for n, d in entries]))


# ---------------------------------------------------------------- absurd sizes, strides, nesting
class Storage:
    """Stands for a storage; the pickler writes it as the persistent id torch uses."""

    def __init__(self, key, numel, view=None):
        self.key, self.numel, self.view = key, numel, view


class View:
    """Pickles exactly as torch pickles a tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            pid = ('storage', torch.FloatStorage, obj.key, 'cpu', obj.numel)
            return pid + (obj.view,) if obj.view is not None else pid
        return None


def dumps(obj):
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def zip_pth(name, tensors, storages):
    write(name, zip_archive([('archive/data.pkl', dumps(OrderedDict(tensors)))]
                            + [('archive/data/' + k, v) for k, v in storages.items()] + [('archive/version', '3\n')]))


def legacy_pth(name, tensors, keys, tail):
    head = b''.join(pickle.dumps(x, protocol=2) for x in (0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True}))
    write(name, head + dumps(OrderedDict(tensors)) + pickle.dumps(keys, protocol=2) + tail)


four = struct.pack('<4f', 1, 2, 3, 4)
s4 = Storage('0', 4)
zip_pth('numel_overflow.pth', [('w', View(Storage('0', 2 ** 62), 0, [2], [1]))], {'0': four})   # numel * 4 overflows
zip_pth('stride0_huge.pth', [('w', View(s4, 0, [2 ** 40], [0]))], {'0': four})                 # expand to 4 TB
zip_pth('stride0_overflow.pth', [('w', View(s4, 0, [2 ** 62], [0]))], {'0': four})             # bytes overflow
zip_pth('span_overflow.pth', [('w', View(s4, 2 ** 62, [3], [2 ** 61]))], {'0': four})          # offset + span overflows
zip_pth('size_overflow.pth', [('w', View(s4, 0, [2 ** 32, 2 ** 32], [1, 1]))], {'0': four})    # sizes overflow
zip_pth('negative_stride.pth', [('w', View(s4, 3, [2], [-1]))], {'0': four})
zip_pth('outside_storage.pth', [('w', View(s4, 2, [3], [1]))], {'0': four})                    # elements 2..4 of 4
zip_pth('missing_storage.pth', [('w', View(s4, 0, [4], [1]))], {})
# One 16 KB storage named by 256 keys: 4 MB of tensors from a 34 KB file.
big = Storage('0', 4096)
zip_pth('many_keys_one_storage.pth', [('w%d' % i, View(big, 0, [4096], [1])) for i in range(256)], {'0': bytes(4 * 4096)})
legacy_pth('legacy_huge_count.pth', [('w', View(s4, 0, [4], [1]))], ['0'], struct.pack('<Q', 2 ** 61) + four)
# torch < 0.4 storage views: ('storage', type, key, location, numel, (view_key, offset, size)).
legacy_pth('legacy_storage_view.pth', [('w', View(Storage('0', 4, ('1', 2, 2)), 0, [2], [1]))], ['0'], struct.pack('<Q', 4) + four)
# x = (x, x) sixty-four times through the memo: 2^64 leaves, 325 bytes.
write('tuple_dag.pth', b'\x80\x02K\x00' + b'q\x00h\x00\x86' * 64 + b'.')
# 2 000 nested MARK ... TUPLE (the loader allows 512 levels).
write('deep_tuples.pth', b'\x80\x02' + b'(' * 2000 + b'K\x01' + b't' * 2000 + b'.')
# Length fields near 2^64.
write('unicode8_huge.pth', b'\x80\x04\x8d' + struct.pack('<Q', 2 ** 64 - 1) + b'abc.')
write('long4_huge.pth', b'\x80\x02\x8b' + struct.pack('<I', 2 ** 32 - 1) + b'.')
write('unknown_opcode.pth', b'\x80\x02\xff.')


def safetensors_file(header_json):
    h = header_json.encode()
    return struct.pack('<Q', len(h)) + h


write('st_bad_json.safetensors', safetensors_file('{"a": [1,'))
write('st_bool_shape.safetensors', safetensors_file('{"b":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}') + bytes(4))
write('st_fraction_shape.safetensors', safetensors_file('{"b":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}') + bytes(4))
write('st_wrong_size.safetensors', safetensors_file('{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}') + bytes(4))
write('st_bad_dtype.safetensors', safetensors_file('{"b":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}') + bytes(2))
write('st_huge_header.safetensors', struct.pack('<Q', 1000) + b'{}' + bytes(10))

# ---------------------------------------------------------------- NPY variants
np.save(path('big_endian.npy'), np.arange(6, dtype='>f4').reshape(2, 3))
np.save(path('rank0.npy'), np.array(2.5, dtype=np.float32))
np.save(path('rank1.npy'), np.arange(7, dtype=np.float32) - 3)
with open(path('npy_v2.npy'), 'wb') as f:
    np.lib.format.write_array(f, np.arange(6, dtype=np.float32).reshape(3, 2), version=(2, 0))
header = b"{ \"shape\":(2,3) ,\"fortran_order\" :False, \"descr\":\"<f4\"}"   # odd but valid literal
header += b' ' * ((64 - (10 + len(header) + 1) % 64) % 64) + b'\n'
write('npy_handwritten.npy', b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header + np.arange(6, dtype='<f4').tobytes())
with open(path('rank1.npy'), 'rb') as f:
    write('npy_truncated.npy', f.read()[:-6])
print('wrote checkpoint edge cases to', OUT)
