"""Build generate.onnx: prefill and the whole greedy loop of a batch in ONE onnxruntime run.

The engine used to drive decoding from JavaScript: one `decoder.run` per token, argmax over the vocabulary in
JS, and on CUDA the whole KV cache copied host -> device and back every step (onnxruntime-node has no CUDA
device tensors, so nothing can stay on the GPU between two runs). generate.onnx moves the loop into the graph:

    prefill (the decoder's nodes) -> first token
    Loop(body = the decoder's nodes again + ArgMax + LogSoftmax + stop test)  -> one token per row per step

The KV cache never leaves the execution provider. It is split in two: the prompt's part, written once by the
prefill and read by every step from the outer scope (never copied), and the generated tokens' part, which is
loop-carried (onnxruntime's Loop allocates each iteration's outputs anew, so that part exists more than once). Every
weight is stored once, in the main graph; the body refers to the weights (and to every node that depends only
on weights, such as a Cast of fp16 storage) through the outer scope, so nothing is duplicated per iteration.

Inputs: inputs_embeds [B,S,H], attn_bias [B,1,S,S], position_ids [B,S] (the decoder's prefill inputs, left
padded), max_new_tokens [B] (int64, >= 1), eos_token_ids [E] (int64, config.json's) and watch_token_ids [W]
(int64, W >= 1: tokens whose log-probability the host wants at every step, e.g. for a no-speech probability).
Outputs: tokens [T,B] (int64), token_logprobs [T,B] (the log-probability of each chosen token, float32) and
watch_logprobs [T,B,W], T = 1 + the number of loop iterations. The loop stops when
every row has ended (an EOS id or its own bound); a row that ended earlier keeps being computed (its later
tokens are ignored by the host): rows never look at each other, so its neighbours' tokens do not change.
"""
from __future__ import annotations

import json
import os

import onnx
from onnx import TensorProto, helper, numpy_helper

INT64_MAX = 2**63 - 1


def _constant_values(graph: onnx.GraphProto) -> set[str]:
    """Names whose value depends only on initializers and Constant nodes (weights and what is cast from them)."""
    const = {i.name for i in graph.initializer}
    inputs = {i.name for i in graph.input}
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if all(o in const for o in node.output):
                continue
            if any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute):
                continue
            ins = [i for i in node.input if i]
            if all(i in const and i not in inputs for i in ins):
                const.update(node.output)
                changed = True
    return const


def _lm_head_weight(graph: onnx.GraphProto) -> str | None:
    """The float [hidden, vocab] matrix of lm_head (exported transposed), or None when lm_head is quantized."""
    producer = {o: n for n in graph.node for o in n.output}
    node = producer[graph.output[0].name]
    return node.input[1] if node.op_type == "MatMul" else None


def build_generate_graph(decoder: onnx.ModelProto, num_layers: int, kv_heads: int, head_dim: int, hidden: int,
                         embed_tokens: onnx.ModelProto, tied: bool) -> onnx.ModelProto:
    """decoder, embed_tokens: the decoder.onnx / embed_tokens.onnx contract (gpu-worker/engine/README.md).

    The steps embed their token inside the graph. With tied embeddings and a float lm_head, the token's column
    of lm_head's [hidden, vocab] weight is its embedding: no extra memory. Otherwise (a quantized lm_head) the
    embed_tokens graph's table and nodes are copied in, and that table is held on the device (config.json's
    weight_bytes.generate counts it)."""
    g = decoder.graph
    const = _constant_values(g)
    weight = _lm_head_weight(g) if tied else None
    io_type = next(i for i in g.input if i.name == "inputs_embeds").type.tensor_type.elem_type
    kv_names = [f"past_key_values.{i}.{k}" for i in range(num_layers) for k in ("key", "value")]
    present_names = [f"present.{i}.{k}" for i in range(num_layers) for k in ("key", "value")]

    main_nodes: list[onnx.NodeProto] = []
    decoder_nodes = [n for n in g.node if not all(o in const for o in n.output)]
    const_nodes = [n for n in g.node if all(o in const for o in n.output)]
    main_nodes.extend(const_nodes)

    def node(op, ins, outs, **attrs):
        return helper.make_node(op, ins, outs, name=f"{outs[0]}__{op}", **attrs)

    # ---------------------------------------------------------------- main graph: prefill + first token
    inits = [
        helper.make_tensor("gen/one_i64", TensorProto.INT64, [1], [1]),
        helper.make_tensor("gen/zero_i64", TensorProto.INT64, [1], [0]),
        helper.make_tensor("gen/kv_tail", TensorProto.INT64, [3], [kv_heads, 0, head_dim]),
        helper.make_tensor("gen/one_one_one", TensorProto.INT64, [3], [1, 1, 1]),
        helper.make_tensor("gen/axis0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("gen/axis1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("gen/minus1", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("gen/int64_max", TensorProto.INT64, [1], [INT64_MAX]),
        helper.make_tensor("gen/axis2", TensorProto.INT64, [1], [2]),
    ]
    main_nodes += [
        node("Shape", ["inputs_embeds"], ["gen/embeds_shape"]),
        node("Slice", ["gen/embeds_shape", "gen/zero_i64", "gen/one_i64"], ["gen/batch"]),
        node("Concat", ["gen/batch", "gen/kv_tail"], ["gen/empty_kv_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["gen/empty_kv_shape"], ["gen/empty_kv"], name="gen/empty_kv",
                         value=helper.make_tensor("v", io_type, [1], [0])),
    ]
    rename_prefill = {n: "gen/empty_kv" for n in kv_names}
    for n in decoder_nodes:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        for i, name in enumerate(copy.input):
            if name in rename_prefill:
                copy.input[i] = rename_prefill[name]
        main_nodes.append(copy)

    def pick(prefix: str, logits: str, nodes: list, scope: str) -> tuple[str, str]:
        """ArgMax and its log-probability from logits [B,1,V] (computed in float32)."""
        nodes += [
            node("Squeeze", [logits, scope + "axis1"], [prefix + "logits2"]),
            node("Cast", [prefix + "logits2"], [prefix + "logits_f32"], to=TensorProto.FLOAT),
            node("ArgMax", [prefix + "logits_f32"], [prefix + "next"], axis=1, keepdims=0),
            node("LogSoftmax", [prefix + "logits_f32"], [prefix + "logp_all"], axis=1),
            node("Unsqueeze", [prefix + "next", scope + "axis1"], [prefix + "next_col"]),
            node("GatherElements", [prefix + "logp_all", prefix + "next_col"], [prefix + "logp_col"], axis=1),
            node("Squeeze", [prefix + "logp_col", scope + "axis1"], [prefix + "logp"]),
            node("Gather", [prefix + "logp_all", "watch_token_ids"], [prefix + "watch"], axis=1),
        ]
        return prefix + "next", prefix + "logp"

    def is_eos(prefix: str, token: str, nodes: list, scope: str) -> str:
        nodes += [
            node("Unsqueeze", [token, scope + "axis1"], [prefix + "tok_col"]),
            node("Equal", [prefix + "tok_col", "eos_token_ids"], [prefix + "eq"]),
            node("Cast", [prefix + "eq"], [prefix + "eq_i64"], to=TensorProto.INT64),
            node("ReduceMax", [prefix + "eq_i64"], [prefix + "any_i64"], axes=[1], keepdims=0),
            node("Cast", [prefix + "any_i64"], [prefix + "eos"], to=TensorProto.BOOL),
        ]
        return prefix + "eos"

    first, first_logp = pick("gen/first_", "logits", main_nodes, "gen/")
    first_eos = is_eos("gen/first_", first, main_nodes, "gen/")
    main_nodes += [
        # The past mask every later step extends: the last prefill query row (real tokens 0, padding blocked).
        node("Slice", ["attn_bias", "gen/minus1", "gen/int64_max", "gen/axis2"], ["gen/bias0"]),
        node("ReduceMax", ["position_ids"], ["gen/prompt_last_position"], axes=[1], keepdims=0),
        node("Add", ["gen/prompt_last_position", "gen/one_i64"], ["gen/position0"]),
        node("Expand", ["gen/one_i64", "gen/batch"], ["gen/count0"]),
        node("GreaterOrEqual", ["gen/count0", "max_new_tokens"], ["gen/hit0"]),
        node("Or", [first_eos, "gen/hit0"], ["gen/finished0"]),
        # At least one iteration, so the loop's scan outputs always have the shape [N >= 1, B].
        node("ReduceMax", ["max_new_tokens"], ["gen/max_new"], keepdims=0),
        node("Sub", ["gen/max_new", "gen/one_i64"], ["gen/trips_raw"]),
        node("Max", ["gen/trips_raw", "gen/one_i64"], ["gen/trips_1"]),
        node("Squeeze", ["gen/trips_1", "gen/axis0"], ["gen/trips"]),
    ]
    main_nodes.append(helper.make_node("Constant", [], ["gen/true"], name="gen/true",
                                       value=helper.make_tensor("t", TensorProto.BOOL, [], [True])))

    # ---------------------------------------------------------------- loop body: one decode step
    S = "step/"
    body_nodes: list[onnx.NodeProto] = []
    body_inputs = [
        helper.make_tensor_value_info(S + "iter", TensorProto.INT64, []),
        helper.make_tensor_value_info(S + "cond_in", TensorProto.BOOL, []),
        helper.make_tensor_value_info(S + "token", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info(S + "position", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info(S + "bias", io_type, ["batch", 1, 1, "past"]),
        helper.make_tensor_value_info(S + "finished", TensorProto.BOOL, ["batch"]),
        helper.make_tensor_value_info(S + "count", TensorProto.INT64, ["batch"]),
    ] + [helper.make_tensor_value_info(S + n, io_type, ["batch", kv_heads, "generated", head_dim]) for n in kv_names]
    embed_inits: list[onnx.TensorProto] = []
    if weight is not None:
        body_nodes += [
            # Embedding: column `token` of the [hidden, vocab] lm_head weight (tied), i.e. row `token` of embed_tokens.
            node("Gather", [weight, S + "token"], [S + "emb_t"], axis=1),
            node("Transpose", [S + "emb_t"], [S + "emb_bh"], perm=[1, 0]),
            node("Unsqueeze", [S + "emb_bh", "gen/axis1"], [S + "emb_cast"]),
            node("Cast", [S + "emb_cast"], [S + "inputs_embeds"], to=io_type),
        ]
    else:
        # embed_tokens' own nodes, fed the token as [B, 1] ids; its table joins the main graph's initializers.
        e = embed_tokens.graph
        table = {i.name for i in e.initializer}
        for init in e.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            copy.name = "embed/" + init.name
            embed_inits.append(copy)
        body_nodes.append(node("Unsqueeze", [S + "token", "gen/axis1"], [S + "embed/input_ids"]))
        for n in e.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            copy.name = S + "embed/" + n.name
            for i, name in enumerate(copy.input):
                copy.input[i] = ("embed/" + name) if name in table else (S + "embed/" + name)
            for i, name in enumerate(copy.output):
                copy.output[i] = S + "embed/" + name
            body_nodes.append(copy)
        body_nodes.append(node("Cast", [S + "embed/" + e.output[0].name], [S + "inputs_embeds"], to=io_type))
    body_nodes += [
        node("Shape", [S + "token"], [S + "batch"]),
        node("Concat", [S + "batch", "gen/one_one_one"], [S + "new_col_shape"], axis=0),
        helper.make_node("ConstantOfShape", [S + "new_col_shape"], [S + "new_col"], name=S + "new_col",
                         value=helper.make_tensor("v", io_type, [1], [0])),
        node("Concat", [S + "bias", S + "new_col"], [S + "attn_bias"], axis=3),
        node("Unsqueeze", [S + "position", "gen/axis1"], [S + "position_ids"]),
    ]
    rename = {"inputs_embeds": S + "inputs_embeds", "attn_bias": S + "attn_bias", "position_ids": S + "position_ids"}
    rename.update({n: S + n for n in kv_names})
    # Split cache: the prompt's keys/values (the prefill's `present`, computed once in the main graph) are read
    # from the outer scope and never copied; only the generated tokens' cache is loop-carried. Each layer
    # attends over Concat(prompt cache, generated cache): a transient of one layer, freed before the next.
    generated_cache = {S + n for n in present_names}
    full_cache = {S + n: f"{S}full.{n}" for n in present_names}
    for n in decoder_nodes:
        copy = onnx.NodeProto()
        copy.CopyFrom(n)
        copy.name = S + n.name
        for i, name in enumerate(copy.input):
            if name in rename:
                copy.input[i] = rename[name]
            elif name and name not in const:
                copy.input[i] = S + name
                if S + name in generated_cache:
                    copy.input[i] = full_cache[S + name]
        for i, name in enumerate(copy.output):
            copy.output[i] = S + name
        body_nodes.append(copy)
        for name in copy.output:
            if name in generated_cache:
                prompt_cache = name[len(S):]
                body_nodes.append(node("Concat", [prompt_cache, name], [full_cache[name]], axis=2))
    nxt, nxt_logp = pick(S, S + "logits", body_nodes, "gen/")
    nxt_eos = is_eos(S, nxt, body_nodes, "gen/")
    body_nodes += [
        node("Add", [S + "count", "gen/one_i64"], [S + "count_out"]),
        node("GreaterOrEqual", [S + "count_out", "max_new_tokens"], [S + "hit"]),
        node("Or", [nxt_eos, S + "hit"], [S + "ended_now"]),
        node("Or", [S + "finished", S + "ended_now"], [S + "finished_out"]),
        node("Cast", [S + "finished_out"], [S + "finished_i64"], to=TensorProto.INT64),
        node("ReduceMin", [S + "finished_i64"], [S + "all_i64"], keepdims=0),
        node("Cast", [S + "all_i64"], [S + "all"], to=TensorProto.BOOL),
        node("Not", [S + "all"], [S + "cond_out"]),
        node("Add", [S + "position", "gen/one_i64"], [S + "position_out"]),
        node("Identity", [nxt], [S + "token_out"]),
        node("Identity", [S + "attn_bias"], [S + "bias_out"]),
        node("Identity", [nxt], [S + "scan_token"]),
        node("Identity", [nxt_logp], [S + "scan_logp"]),
        node("Identity", [S + "watch"], [S + "scan_watch"]),
    ]
    body_outputs = [
        helper.make_tensor_value_info(S + "cond_out", TensorProto.BOOL, []),
        helper.make_tensor_value_info(S + "token_out", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info(S + "position_out", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info(S + "bias_out", io_type, ["batch", 1, 1, "total"]),
        helper.make_tensor_value_info(S + "finished_out", TensorProto.BOOL, ["batch"]),
        helper.make_tensor_value_info(S + "count_out", TensorProto.INT64, ["batch"]),
    ] + [helper.make_tensor_value_info(S + n, io_type, ["batch", kv_heads, "generated_next", head_dim]) for n in present_names] + [
        helper.make_tensor_value_info(S + "scan_token", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info(S + "scan_logp", TensorProto.FLOAT, ["batch"]),
        helper.make_tensor_value_info(S + "scan_watch", TensorProto.FLOAT, ["batch", "watch"]),
    ]
    body = helper.make_graph(body_nodes, "decode_step", body_inputs, body_outputs)

    carried_in = [first, "gen/position0", "gen/bias0", "gen/finished0", "gen/count0"] + ["gen/empty_kv"] * len(present_names)
    carried_out = ["gen/last_token", "gen/last_position", "gen/last_bias", "gen/last_finished", "gen/last_count"] + [
        f"gen/last_{n}" for n in present_names]
    main_nodes.append(helper.make_node("Loop", ["gen/trips", "gen/true"] + carried_in,
                                       carried_out + ["gen/loop_tokens", "gen/loop_logp", "gen/loop_watch"], name="gen/loop", body=body))
    main_nodes += [
        node("Unsqueeze", [first, "gen/axis0"], ["gen/first_row"]),
        node("Unsqueeze", [first_logp, "gen/axis0"], ["gen/first_logp_row"]),
        node("Concat", ["gen/first_row", "gen/loop_tokens"], ["tokens"], axis=0),
        node("Concat", ["gen/first_logp_row", "gen/loop_logp"], ["token_logprobs"], axis=0),
        node("Unsqueeze", ["gen/first_watch", "gen/axis0"], ["gen/first_watch_row"]),
        node("Concat", ["gen/first_watch_row", "gen/loop_watch"], ["watch_logprobs"], axis=0),
    ]

    inputs = [i for i in g.input if i.name not in kv_names]
    inputs.append(helper.make_tensor_value_info("max_new_tokens", TensorProto.INT64, ["batch"]))
    inputs.append(helper.make_tensor_value_info("eos_token_ids", TensorProto.INT64, ["eos"]))
    inputs.append(helper.make_tensor_value_info("watch_token_ids", TensorProto.INT64, ["watch"]))
    outputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, ["steps", "batch"]),
        helper.make_tensor_value_info("token_logprobs", TensorProto.FLOAT, ["steps", "batch"]),
        helper.make_tensor_value_info("watch_logprobs", TensorProto.FLOAT, ["steps", "batch", "watch"]),
    ]
    main = helper.make_graph(main_nodes, "generate", inputs, outputs, initializer=list(g.initializer) + inits + embed_inits)
    model = helper.make_model(main, opset_imports=list(decoder.opset_import), producer_name="qwen3-asr-generate")
    model.ir_version = decoder.ir_version
    return model


def _weight_bytes(model: onnx.ModelProto) -> int:
    from .precision import weight_bytes

    return weight_bytes(model)


def write_generate_graph(model_dir: str) -> str:
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    q = config["qwen3_asr"]
    decoder = onnx.load(os.path.join(model_dir, "decoder.onnx"))
    embed_tokens = onnx.load(os.path.join(model_dir, "embed_tokens.onnx"))
    model = build_generate_graph(decoder, q["num_hidden_layers"], q["num_key_value_heads"], q["head_dim"],
                                 q["hidden_size"], embed_tokens, bool(q.get("tie_word_embeddings")))
    out = os.path.join(model_dir, "generate.onnx")
    large = sum(len(i.raw_data) for i in model.graph.initializer) > 2**31 - 2**26
    if large:  # one external data file, never the 2 GB protobuf path
        onnx.save_model(model, out, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="generate.onnx.data", size_threshold=1024)
    else:
        onnx.save(model, out)
    onnx.checker.check_model(out)
    # config.json says what each graph holds (the memory model and the precision tests read it).
    if "weight_bytes" in q:
        q["weight_bytes"]["generate"] = _weight_bytes(model)
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
    return out
