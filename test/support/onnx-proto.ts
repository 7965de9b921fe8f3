import { readFileSync } from "node:fs";

/**
 * A minimal reader of ONNX model files (protobuf wire format): just enough of ModelProto → GraphProto →
 * {NodeProto, TensorProto} to list the constants a graph holds, their dtype, dims and byte size. No protobuf
 * library is in the dependency tree and this is all the tests need.
 */

export const ONNX_DTYPE: Record<number, { name: string; bytes: number }> = {
  1: { name: "float32", bytes: 4 },
  2: { name: "uint8", bytes: 1 },
  3: { name: "int8", bytes: 1 },
  5: { name: "int16", bytes: 2 },
  6: { name: "int32", bytes: 4 },
  7: { name: "int64", bytes: 8 },
  9: { name: "bool", bytes: 1 },
  10: { name: "float16", bytes: 2 },
  11: { name: "double", bytes: 8 },
  16: { name: "bfloat16", bytes: 2 },
};

export interface OnnxTensor {
  name: string;
  dtype: string;
  dims: number[];
  /** Bytes the tensor's values take (elements × item size). */
  bytes: number;
}

export interface OnnxNode {
  opType: string;
  name: string;
  domain: string;
  inputs: string[];
  outputs: string[];
}

export interface OnnxGraph {
  initializers: OnnxTensor[];
  /** The tensors of Constant nodes (torch exports small constants this way). */
  constants: OnnxTensor[];
  nodes: OnnxNode[];
}

type Field = { num: number; wire: number; value: number | Uint8Array };

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = buf[pos++];
      result += (b & 0x7f) * scale; // multiplication, not <<: values pass 2^31 (dims, offsets)
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) yield { num, wire, value: varint() };
    else if (wire === 1) {
      pos += 8;
      yield { num, wire, value: 0 };
    } else if (wire === 5) {
      pos += 4;
      yield { num, wire, value: 0 };
    } else if (wire === 2) {
      const len = varint();
      yield { num, wire, value: buf.subarray(pos, pos + len) };
      pos += len;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} at byte ${pos}`);
    }
  }
}

const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");

function readVarints(b: Uint8Array): number[] {
  const out: number[] = [];
  let value = 0;
  let scale = 1;
  for (const byte of b) {
    value += (byte & 0x7f) * scale;
    if (byte & 0x80) scale *= 128;
    else {
      out.push(value);
      value = 0;
      scale = 1;
    }
  }
  return out;
}

function parseTensor(buf: Uint8Array): OnnxTensor {
  let name = "";
  let dataType = 0;
  const dims: number[] = [];
  for (const f of fields(buf)) {
    if (f.num === 1) {
      if (f.wire === 2) dims.push(...readVarints(f.value as Uint8Array));
      else dims.push(f.value as number);
    } else if (f.num === 2) dataType = f.value as number;
    else if (f.num === 8) name = text(f.value as Uint8Array);
  }
  const type = ONNX_DTYPE[dataType] ?? { name: `onnx-type-${dataType}`, bytes: 4 };
  const elements = dims.reduce((n, d) => n * d, 1);
  return { name, dtype: type.name, dims, bytes: elements * type.bytes };
}

function parseNode(buf: Uint8Array, constants: OnnxTensor[]): OnnxNode {
  const node: OnnxNode = { opType: "", name: "", domain: "", inputs: [], outputs: [] };
  const tensors: OnnxTensor[] = [];
  for (const f of fields(buf)) {
    const b = f.value as Uint8Array;
    if (f.num === 1) node.inputs.push(text(b));
    else if (f.num === 2) node.outputs.push(text(b));
    else if (f.num === 3) node.name = text(b);
    else if (f.num === 4) node.opType = text(b);
    else if (f.num === 7) node.domain = text(b);
    else if (f.num === 5) {
      // AttributeProto: field 5 is its tensor value
      for (const a of fields(b)) if (a.num === 5) tensors.push(parseTensor(a.value as Uint8Array));
    }
  }
  if (node.opType === "Constant") constants.push(...tensors.map((t) => ({ ...t, name: node.outputs[0] ?? t.name })));
  return node;
}

export function readOnnxGraph(path: string): OnnxGraph {
  const file = new Uint8Array(readFileSync(path));
  const graph: OnnxGraph = { initializers: [], constants: [], nodes: [] };
  for (const f of fields(file)) {
    if (f.num !== 7) continue; // ModelProto.graph
    for (const g of fields(f.value as Uint8Array)) {
      if (g.num === 1) graph.nodes.push(parseNode(g.value as Uint8Array, graph.constants));
      else if (g.num === 5) graph.initializers.push(parseTensor(g.value as Uint8Array));
    }
  }
  return graph;
}

/** Bytes of every constant (initializers and Constant nodes) by dtype. */
export function constantBytesByDtype(graph: OnnxGraph): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of [...graph.initializers, ...graph.constants]) out[t.dtype] = (out[t.dtype] ?? 0) + t.bytes;
  return out;
}
