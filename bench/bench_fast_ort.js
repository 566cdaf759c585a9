// bench_fast_ort.js — the onnxruntime side of bench/fast_bench.py: times one TransformerNet forward
// pass in onnxruntime-node (its CPU execution provider, MLAS kernels) on the same raw float32
// (3, H, W) input impasto's bench_fast reads, and prints one JSON line like it.
//
//   node bench/bench_fast_ort.js --onnx build/bench/candy.onnx --height H --width W --input x.f32
//        [--runs 5] [--warmup 1] [--threads 2] [--budget 0] [--out y.f32] [--node-modules DIR]
//
// The session uses intraOpNumThreads = --threads, one inter-op thread, sequential execution and
// every graph optimisation; it is created (and the graph optimised) before timing starts. Each
// timed run is one session.run on a tensor wrapping the input (no copy, as impasto's copy into its
// plan is timed: 3 MB at 512 px, well under a millisecond).
'use strict';
const fs = require('fs');
const path = require('path');

const MIN_RUNS = 3;

function parseArgs(argv) {
  const o = {runs: 5, warmup: 1, threads: 2, budget: 0, nodeModules: 'build/bench/node/node_modules'};
  const ints = {'--height': 'h', '--width': 'w', '--runs': 'runs', '--warmup': 'warmup', '--threads': 'threads'};
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error('missing value for ' + a);
    if (a in ints) o[ints[a]] = parseInt(v, 10);
    else if (a === '--budget') o.budget = parseFloat(v);
    else if (a === '--onnx') o.onnx = v;
    else if (a === '--input') o.input = v;
    else if (a === '--out') o.out = v;
    else if (a === '--node-modules') o.nodeModules = v;
    else throw new Error('unknown option ' + a);
  }
  if (!o.onnx || !o.input || !(o.h > 0) || !(o.w > 0)) throw new Error('need --onnx, --input, --height, --width');
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const ort = require(path.resolve(o.nodeModules, 'onnxruntime-node'));
  const buf = fs.readFileSync(o.input);
  const n = 3 * o.h * o.w;
  if (buf.length !== 4 * n) throw new Error(`${o.input} holds ${buf.length} bytes, expected ${4 * n}`);
  const x = new Float32Array(buf.buffer, buf.byteOffset, n);  // (3, H, W)
  const session = await ort.InferenceSession.create(o.onnx, {
    intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {input: new ort.Tensor('float32', x, [1, 3, o.h, o.w])};
  const times = [];
  let spent = 0, y = null;
  for (let r = -o.warmup; r < o.runs; r++) {
    const t0 = process.hrtime.bigint();
    const res = await session.run(feeds);
    const t = Number(process.hrtime.bigint() - t0) * 1e-9;
    y = res.output;
    if (r < 0) continue;
    times.push(t);
    spent += t;
    if (o.budget > 0 && spent > o.budget && times.length >= MIN_RUNS) break;
  }
  if (o.out) fs.writeFileSync(o.out, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  console.log(JSON.stringify({impl: 'onnxruntime', version: require(path.resolve(o.nodeModules,
    'onnxruntime-node/package.json')).version, h: o.h, w: o.w, oh: y.dims[2], ow: y.dims[3],
    threads: o.threads, times: times.map((t) => Number(t.toFixed(6)))}));
}

main().catch((e) => {
  process.stderr.write('bench_fast_ort: ' + (e && e.message ? e.message : e) + '\n');
  process.exit(1);
});
