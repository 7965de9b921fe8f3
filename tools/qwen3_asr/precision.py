"""Rewrite a float32 ONNX graph of the contract into the precisions the engine deploys.

Every rewrite works on the ONNX graph, not on torch (torch 1.13 cannot trace half precision on a CPU), so the
same code converts a fresh export, a shipped model and a graph with the real 1.7B widths:

- ``float16``: weights, activations, KV cache, logits and every float input/output in half. The ops Qwen3 needs
  accumulated in float32 stay float32 inside the graph: every RMSNorm/LayerNorm (a node scope ending in
  ``norm``), every Softmax, and the RoPE angle computation (positions up to 65,536 do not fit half's 11-bit
  mantissa). Those islands are entered through ``Cast(→float32)`` of an *activation* and left through
  ``Cast(→float16)``; no weight is ever behind a Cast, so onnxruntime's constant folding has nothing to widen.
- ``int8`` / ``int4``: weight-only, block-wise symmetric quantization of every MatMul/Gemm with a constant
  weight into onnxruntime's ``com.microsoft.MatMulNBits``; activations, KV cache and I/O stay float32. The
  embedding table (run on the CPU execution provider) is stored float16 behind a Gather, whose output Cast is
  not constant and so cannot be folded either.

``weight_bytes`` reports what a graph holds after loading: the bytes of its initializers and Constant tensors.
"""
from __future__ import annotations

import os
import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRECISIONS = ("float32", "float16", "int8", "int4")
MS_DOMAIN = "com.microsoft"
DEFAULT_BLOCK_SIZE = 32
# Protobuf's hard limit is 2 GiB; graphs with more than 128 MiB of weights get one external data file, so the
# 1.7B's decoder in every precision (and its 1-2 layer test model) takes the same path.
EXTERNAL_DATA_THRESHOLD = 128 << 20

# --------------------------------------------------------------------------------------------- graph helpers


def _fold_identities(model: onnx.ModelProto) -> None:
    """Point consumers of `Identity(initializer)` at the initializer (torch emits these for shared weights)."""
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    keep = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in outputs:
            rename[node.output[0]] = node.input[0]
        else:
            keep.append(node)
    for node in keep:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(keep)


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every initializer's data replaced by an external-data stub: shape inference serializes the
    model, which a >2 GB one cannot be, and it needs only names, dtypes and dims."""
    skeleton = onnx.ModelProto()
    skeleton.CopyFrom(onnx.ModelProto(ir_version=model.ir_version, opset_import=model.opset_import,
                                      producer_name=model.producer_name))
    graph = onnx.GraphProto()
    for field in ("node", "input", "output", "value_info"):
        getattr(graph, field).extend(getattr(model.graph, field))
    graph.name = model.graph.name
    for init in model.graph.initializer:
        stub = onnx.TensorProto(name=init.name, data_type=init.data_type, dims=init.dims)
        stub.data_location = onnx.TensorProto.EXTERNAL
        stub.external_data.add(key="location", value="stub")
        graph.initializer.append(stub)
    skeleton.graph.CopyFrom(graph)
    return skeleton


def _float_tensors(model: onnx.ModelProto) -> set[str]:
    """Names of every float32 tensor in the graph (inputs, initializers, node outputs), by shape inference."""
    inferred = onnx.shape_inference.infer_shapes(_skeleton(model))
    g = inferred.graph
    names = {i.name for i in g.initializer if i.data_type == TensorProto.FLOAT}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            names.add(vi.name)
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                    names.add(node.output[0])
    return names


def weight_bytes(model: onnx.ModelProto) -> int:
    """Bytes of the constants a session holds: initializers and Constant node tensors."""
    total = 0
    for init in model.graph.initializer:
        total += _tensor_nbytes(init)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    total += _tensor_nbytes(a.t)
    return total


_ITEM_SIZE = {TensorProto.FLOAT: 4, TensorProto.FLOAT16: 2, TensorProto.BFLOAT16: 2, TensorProto.INT64: 8,
              TensorProto.INT32: 4, TensorProto.INT8: 1, TensorProto.UINT8: 1, TensorProto.BOOL: 1,
              TensorProto.DOUBLE: 8}


def _tensor_nbytes(t: onnx.TensorProto) -> int:
    return int(np.prod(t.dims, dtype=np.int64)) * _ITEM_SIZE.get(t.data_type, 4)


def save_model(model: onnx.ModelProto, path: str) -> None:
    """Save, with ONE external data file (`<name>.data`) when the weights are too large for a single protobuf.

    The check runs on the saved path (onnx.checker cannot take an in-memory model over 2 GB).
    """
    data_name = os.path.basename(path) + ".data"
    data_path = os.path.join(os.path.dirname(path), data_name)
    if os.path.exists(data_path):
        os.remove(data_path)
    if weight_bytes(model) > EXTERNAL_DATA_THRESHOLD:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=1024)
    else:
        onnx.save_model(model, path)
    onnx.checker.check_model(path)


# -------------------------------------------------------------------------------------------------- float16

_NORM_SCOPE = re.compile(r"norm/")  # /text/layers.0/input_layernorm/…, …/q_norm/…, /ln_post/…, /text/norm/…
_ROPE_SCOPE = re.compile(r"^/text/[^/]+$")  # the decoder's rotary angles, computed once from position_ids


def _in_fp32_island(node: onnx.NodeProto) -> bool:
    return node.op_type == "Softmax" or bool(_NORM_SCOPE.search(node.name)) or bool(_ROPE_SCOPE.match(node.name))


def _to_half_attr(node: onnx.NodeProto) -> None:
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
            a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
        if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
            a.i = TensorProto.FLOAT16


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Half everywhere except the float32 islands (see the module docstring)."""
    _fold_identities(model)
    graph = model.graph
    floats = _float_tensors(model)
    island = [_in_fp32_island(n) for n in graph.node]
    producer_in_island: dict[str, bool] = {}
    for node, inside in zip(graph.node, island):
        for out in node.output:
            producer_in_island[out] = inside

    # Initializers: half for ordinary consumers, an extra float32 copy when an island also reads one.
    consumers: dict[str, list[bool]] = {}
    for node, inside in zip(graph.node, island):
        for name in node.input:
            consumers.setdefault(name, []).append(inside)
    new_inits = []
    fp32_copy: dict[str, str] = {}
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            new_inits.append(init)
            continue
        arr = numpy_helper.to_array(init)
        users = consumers.get(init.name, [])
        if users and all(users):
            new_inits.append(init)  # only float32 islands read it (norm weights): keep it float32
            producer_in_island[init.name] = True
            continue
        new_inits.append(numpy_helper.from_array(arr.astype(np.float16), init.name))
        producer_in_island[init.name] = False
        if any(users):
            fp32_copy[init.name] = init.name + "_fp32"
            new_inits.append(numpy_helper.from_array(arr, init.name + "_fp32"))
    del graph.initializer[:]
    graph.initializer.extend(new_inits)

    casts: dict[tuple[str, int], str] = {}
    new_nodes: list[onnx.NodeProto] = []

    def cast(name: str, to: int) -> str:
        key = (name, to)
        if key not in casts:
            casts[key] = f"{name}_to_{'fp32' if to == TensorProto.FLOAT else 'fp16'}"
            new_nodes.append(helper.make_node("Cast", [name], [casts[key]], to=to, name=casts[key] + "_cast"))
        return casts[key]

    graph_outputs = {o.name for o in graph.output}
    for node, inside in zip(list(graph.node), island):
        for i, name in enumerate(node.input):
            if name not in floats:
                continue
            src_island = producer_in_island.get(name, False)  # graph inputs are half
            if inside and name in fp32_copy:
                node.input[i] = fp32_copy[name]
            elif inside and not src_island:
                node.input[i] = cast(name, TensorProto.FLOAT)
            elif not inside and src_island:
                node.input[i] = cast(name, TensorProto.FLOAT16)
        if not inside:
            _to_half_attr(node)
        else:
            for j, out in enumerate(node.output):
                if out in graph_outputs and out in floats:
                    node.output[j] = out + "_fp32"
                    new_nodes.append(helper.make_node("Cast", [out + "_fp32"], [out], to=TensorProto.FLOAT16,
                                                      name=out + "_out_cast"))
        new_nodes.append(node)

    del graph.node[:]
    graph.node.extend(new_nodes)
    for vi in list(graph.input) + list(graph.output):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    del graph.value_info[:]
    _topological_sort(graph)
    # Strict inference fails on any float/half mismatch left behind.
    onnx.shape_inference.infer_shapes(_skeleton(model), check_type=True, strict_mode=True)
    return model


def _topological_sort(graph: onnx.GraphProto) -> None:
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        rest = []
        for node in pending:
            if all(i in available for i in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input near {rest[0].name}")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


# ------------------------------------------------------------------------------------------- int8 / int4


def quantize_blockwise(w_nk: np.ndarray, bits: int, block_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric block-wise quantization of W [N, K] in MatMulNBits' layout.

    Returns (packed uint8 [N, k_blocks, block_size*bits/8], scales float32 [N*k_blocks], dequantized W [N, K]).
    Each block of `block_size` consecutive K values of one output column n gets one scale; values are stored as
    q + 2^(bits-1) (the kernel's zero point when none is given); for 4 bits two values share a byte, the first
    in the low nibble (onnxruntime's `MatMulNBits` packing).
    """
    n, k = w_nk.shape
    k_blocks = -(-k // block_size)
    padded = np.zeros((n, k_blocks * block_size), dtype=np.float32)
    padded[:, :k] = w_nk
    blocks = padded.reshape(n, k_blocks, block_size)
    qmax = (1 << (bits - 1)) - 1  # 7 or 127: symmetric, so -qmax..qmax
    scale = np.abs(blocks).max(axis=2) / qmax
    scale[scale == 0] = 1.0
    scale = scale.astype(np.float32)
    q = np.clip(np.round(blocks / scale[:, :, None]), -qmax, qmax).astype(np.int32)
    deq = (q.astype(np.float32) * scale[:, :, None]).reshape(n, -1)[:, :k]
    stored = (q + (1 << (bits - 1))).astype(np.uint8)
    if bits == 4:
        stored = (stored[:, :, 0::2] | (stored[:, :, 1::2] << 4)).astype(np.uint8)
    return stored, scale.reshape(-1), deq


def to_matmul_nbits(model: onnx.ModelProto, bits: int, block_size: int = DEFAULT_BLOCK_SIZE) -> onnx.ModelProto:
    """Replace every MatMul/Gemm whose weight is a 2-D float32 initializer by com.microsoft.MatMulNBits."""
    assert bits in (4, 8) and block_size >= 16 and block_size & (block_size - 1) == 0
    _fold_identities(model)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    replaced: set[str] = set()
    new_inits = []
    new_nodes = []
    for node in graph.node:
        weight = node.input[1] if len(node.input) > 1 else ""
        init = inits.get(weight)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain_gemm = node.op_type == "Gemm" and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 \
            and not attrs.get("transA", 0)
        if (node.op_type not in ("MatMul", "Gemm") or (node.op_type == "Gemm" and not plain_gemm) or init is None
                or init.data_type != TensorProto.FLOAT or len(init.dims) != 2 or readers[weight] != 1):
            new_nodes.append(node)
            continue
        arr = numpy_helper.to_array(init)
        w_nk = arr if (node.op_type == "Gemm" and attrs.get("transB", 0)) else arr.T  # MatMul weights are [K, N]
        n, k = w_nk.shape
        packed, scales, _ = quantize_blockwise(w_nk, bits, block_size)
        base = node.name.strip("/").replace("/", "_") or weight
        new_inits.append(numpy_helper.from_array(packed, f"{base}_q{bits}"))
        new_inits.append(numpy_helper.from_array(scales, f"{base}_scales"))
        out = node.output[0]
        has_bias = node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]
        mm_out = out + "_nobias" if has_bias else out
        new_nodes.append(helper.make_node(
            "MatMulNBits", [node.input[0], f"{base}_q{bits}", f"{base}_scales"], [mm_out], domain=MS_DOMAIN,
            name=node.name + "_nbits", K=k, N=n, bits=bits, block_size=block_size,
        ))
        if has_bias:
            new_nodes.append(helper.make_node("Add", [mm_out, node.input[2]], [out], name=node.name + "_bias"))
        replaced.add(weight)
    kept = [i for i in graph.initializer if i.name not in replaced]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    del graph.node[:]
    graph.node.extend(new_nodes)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return model


def embed_table_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """embed_tokens for the weight-only precisions: a float16 table, Gather, then Cast of the rows to float32."""
    graph = model.graph
    (gather,) = [n for n in graph.node if n.op_type == "Gather"]
    table = next(i for i in graph.initializer if i.name == gather.input[0])
    table.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), table.name))
    out = gather.output[0]
    gather.output[0] = out + "_fp16"
    graph.node.append(helper.make_node("Cast", [out + "_fp16"], [out], to=TensorProto.FLOAT, name="rows_to_fp32"))
    return model


# ---------------------------------------------------------------------------------------------- entry point


def uncast_float16_storage(model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn an old `float16 storage + Cast(→float32)` graph back into the exact float32 graph it computes."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    keep = []
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        src = inits.get(node.input[0]) if node.op_type == "Cast" else None
        if src is not None and src.data_type == TensorProto.FLOAT16 and to == TensorProto.FLOAT:
            graph.initializer.remove(src)
            graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(src).astype(np.float32),
                                                             node.output[0]))
            del inits[node.input[0]]
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return model


def convert_graph(model: onnx.ModelProto, graph_name: str, precision: str,
                  block_size: int = DEFAULT_BLOCK_SIZE) -> onnx.ModelProto:
    """`graph_name` is encoder | embed_tokens | decoder; the input is the float32 export of that graph."""
    if precision == "float32":
        return model
    if precision == "float16":
        return to_float16(model)
    if precision in ("int8", "int4"):
        if graph_name == "embed_tokens":
            return embed_table_float16(model)
        return to_matmul_nbits(model, 8 if precision == "int8" else 4, block_size)
    raise ValueError(f"unknown precision {precision}; expected one of {PRECISIONS}")


def dtypes_of(precision: str) -> dict[str, str]:
    """What config.json records for a precision: I/O and KV cache dtype, and how weights are stored."""
    half = precision == "float16"
    return {"io_dtype": "float16" if half else "float32", "kv_dtype": "float16" if half else "float32",
            "weights_dtype": precision}
