// Runs bpnn's exported ONNX models in ONNX Runtime (npm onnxruntime-node, CPU) and compares their
// outputs with `bpnn predict`: max |Δ| ≤ 1e-5·max(1, |y|).
// usage: node run_onnxruntime.js MANIFEST.json   (NODE_PATH names the node_modules holding it)
'use strict';
const fs = require('fs');

const TOLERANCE = 1e-5;

// A CSV file with a header row as {rows, cols, values} (row-major numbers).
function readCsv(path) {
  const lines = fs.readFileSync(path, 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  const values = [];
  for (const line of lines) for (const v of line.split(',')) values.push(Number(v));
  return { rows: lines.length, cols: values.length / lines.length, values };
}

async function checkModel(ort, spec) {
  const session = await ort.InferenceSession.create(spec.onnx, { executionProviders: ['cpu'] });
  const x = readCsv(spec.inputs);
  const expected = readCsv(spec.expected);
  const f64 = spec.precision === 'f64';
  const data = f64 ? Float64Array.from(x.values) : Float32Array.from(x.values);
  const input = new ort.Tensor(f64 ? 'float64' : 'float32', data, [x.rows, x.cols]);
  const result = await session.run({ input });
  const y = result.output;
  if (y.type !== (f64 ? 'float64' : 'float32')) throw new Error(`${spec.name}: output type ${y.type}`);
  if (y.dims.join() !== [expected.rows, expected.cols].join())
    throw new Error(`${spec.name}: output shape ${y.dims} for ${expected.rows}x${expected.cols}`);
  let maxDiff = 0, worst = 0, ok = true;
  for (let i = 0; i < expected.values.length; ++i) {
    const e = expected.values[i], diff = Math.abs(y.data[i] - e);
    const bound = TOLERANCE * Math.max(1, Math.abs(e));
    if (!(diff <= bound)) ok = false;
    maxDiff = Math.max(maxDiff, diff);
    worst = Math.max(worst, diff / bound);
  }
  console.log(`${spec.name.padEnd(20)} onnxruntime ${ort.env.versions.common}  max|Δ| ${maxDiff.toPrecision(3)} ` +
              `(${worst.toPrecision(3)} of the bound)  ${ok ? 'ok' : 'MISMATCH'}`);
  return ok;
}

async function main() {
  const ort = require('onnxruntime-node');
  const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const failed = [];
  for (const spec of manifest) if (!(await checkModel(ort, spec))) failed.push(spec.name);
  if (failed.length) {
    console.error(`outputs differ from bpnn predict: ${failed.join(', ')}`);
    process.exit(1);
  }
  console.log(`${manifest.length} models agree with bpnn predict`);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
