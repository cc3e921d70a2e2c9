// Portability check: scores ONNX files written by HyperSparse.MLNet in a second runtime outside .NET (onnxruntime-node,
// the ONNX Runtime Node.js binding) and compares with the scores .NET's ONNX Runtime gave for the same inputs.
//
// Usage: node build/onnx-node-check.mjs <node_modules folder holding onnxruntime-node> <cases folder>
//        node build/onnx-node-check.mjs <node_modules folder> --load-only     (only checks that the native binding loads)
//
// The cases folder (written by the .NET test OnnxRuntimeNodeTests) holds cases.json:
//   [{ "name": "lenet-Compact", "model": "lenet-Compact.onnx",
//      "inputs":  [{ "name": "image", "type": "float32", "dims": [4,3,20,20], "file": "lenet-Compact.image.bin" }],
//      "outputs": [{ "name": "Score", "type": "float32", "dims": [4,10], "file": "lenet-Compact.Score.bin" }, ...] }, ...]
// and the .bin files: raw little-endian float32 or int64 elements. Outputs match when every float element satisfies
// |node − .NET| <= 1e-5 · max(1, |.NET|) (an absolute 1e-5 for probabilities, relative for larger logits) and every
// int64 element is equal; shapes must be equal too.
// Exit codes: 0 every output matches, 1 some output differs (each one is named), 2 bad usage or setup.
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const TOLERANCE = 1e-5;

function fail(code, message) {
  console.error(`onnx-node-check: ${message}`);
  process.exit(code);
}

const [modulesDir, casesDir] = process.argv.slice(2);
if (!modulesDir || !casesDir) {
  fail(2, 'usage: node build/onnx-node-check.mjs <node_modules folder> <cases folder | --load-only>');
}

let ort;
try {
  // Resolve the package from the given folder, not from this script's location.
  ort = createRequire(path.join(path.resolve(modulesDir), 'noop.js'))('onnxruntime-node');
} catch (error) {
  fail(2, `cannot load onnxruntime-node from '${modulesDir}' (run build/check-onnx-node.sh to install it): ${error.message}`);
}

const version = ort.env?.versions?.node ?? ort.env?.versions?.common ?? 'unknown';
if (casesDir === '--load-only') {
  console.log(`onnx-node-check: onnxruntime-node ${version} loads (native binding for ${process.platform}-${process.arch}, Node ${process.version})`);
  process.exit(0);
}

const manifest = path.join(casesDir, 'cases.json');
if (!existsSync(manifest)) fail(2, `no cases.json in '${casesDir}'`);
const cases = JSON.parse(readFileSync(manifest, 'utf8'));
if (!Array.isArray(cases) || cases.length === 0) fail(2, `'${manifest}' lists no cases`);

function readTensorFile(file, type) {
  const bytes = readFileSync(path.join(casesDir, file));
  // Copy into a fresh, aligned buffer: a Buffer from readFileSync may start at any offset of a shared pool.
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  if (type === 'float32') return new Float32Array(buffer);
  if (type === 'int64') return new BigInt64Array(buffer);
  fail(2, `unsupported tensor type '${type}' for '${file}'`);
}

const sameDims = (a, b) => a.length === b.length && a.every((d, i) => Number(d) === Number(b[i]));

const mismatches = [];
for (const testCase of cases) {
  let session;
  try {
    session = await ort.InferenceSession.create(path.join(casesDir, testCase.model));
  } catch (error) {
    mismatches.push(`${testCase.name}: onnxruntime-node cannot load '${testCase.model}': ${error.message}`);
    continue;
  }

  const feeds = {};
  for (const input of testCase.inputs) {
    feeds[input.name] = new ort.Tensor(input.type, readTensorFile(input.file, input.type), input.dims);
  }

  let results;
  try {
    results = await session.run(feeds, testCase.outputs.map((o) => o.name));
  } catch (error) {
    mismatches.push(`${testCase.name}: onnxruntime-node cannot run '${testCase.model}': ${error.message}`);
    continue;
  }

  const notes = [];
  for (const output of testCase.outputs) {
    const expected = readTensorFile(output.file, output.type);
    const actual = results[output.name];
    if (!actual) {
      mismatches.push(`${testCase.name}: output '${output.name}' missing from onnxruntime-node's results`);
      continue;
    }
    if (!sameDims(actual.dims, output.dims)) {
      mismatches.push(`${testCase.name}: output '${output.name}' has dims [${actual.dims}] in node, [${output.dims}] in .NET`);
      continue;
    }
    let worst = 0;
    let worstIndex = -1;
    for (let i = 0; i < expected.length; i++) {
      if (output.type === 'int64') {
        if (actual.data[i] !== expected[i]) {
          worst = Infinity;
          worstIndex = i;
          break;
        }
        continue;
      }
      const excess = Math.abs(actual.data[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
      if (!(excess <= worst)) {
        worst = excess;
        worstIndex = i;
      }
    }
    if (!(worst <= TOLERANCE)) {
      mismatches.push(`${testCase.name}: output '${output.name}' element ${worstIndex}: node ${actual.data[worstIndex]}, ` +
        `.NET ${expected[worstIndex]} (scaled difference ${worst}, allowed ${TOLERANCE})`);
    } else {
      notes.push(output.type === 'int64' ? `${output.name} equal` : `${output.name} max scaled |Δ| ${worst.toExponential(1)}`);
    }
  }
  if (notes.length === testCase.outputs.length) console.log(`ok    ${testCase.name}: ${notes.join(', ')}`);
}

if (mismatches.length > 0) {
  for (const m of mismatches) console.error(`FAIL  ${m}`);
  fail(1, `${mismatches.length} mismatch(es) between onnxruntime-node ${version} and .NET over ${cases.length} models`);
}
console.log(`onnx-node-check: ${cases.length} models, every output of onnxruntime-node ${version} within ${TOLERANCE} of .NET`);
