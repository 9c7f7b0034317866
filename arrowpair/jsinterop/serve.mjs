// serve.mjs reads a pairflow serve HTTP stream (tools/serve, docs/serve.md)
// with the npm apache-arrow reader, independently of arrow-go, and checks it:
// every batch's sample_ids against EXPECT.json, the per-batch tags
// pairflow.epoch / pairflow.batch, and the stream summary on the last batch
// (pairflow.stream.batches, .rows, .crc32 recomputed here). Usage:
//   node serve.mjs URL DESCRIPTOR.json EXPECT.json   (POSTs the descriptor)
// Prints OK and exits 0, or prints the mismatches and exits 1.
import { readFileSync } from 'node:fs';
import { RecordBatchReader } from 'apache-arrow';

const [url, descFile, expFile] = process.argv.slice(2);
const exp = JSON.parse(readFileSync(expFile, 'utf8'));
const errs = [];
const bad = (m) => { if (errs.length < 20) errs.push(m); };

// CRC-32 (IEEE, as zlib.crc32 and Go's hash/crc32.IEEE).
const table = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(crc, bytes) {
  crc = ~crc >>> 0;
  for (const b of bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
function le64(values) {
  const out = new Uint8Array(8 * values.length);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigUint64(8 * i, BigInt.asUintN(64, BigInt(v)), true));
  return out;
}

const resp = await fetch(url, { method: 'POST', body: readFileSync(descFile) });
if (resp.status !== 200) throw new Error(`HTTP ${resp.status}: ${await resp.text()}`);
const reader = await RecordBatchReader.from(resp.body);
let n = 0, rows = 0, crc = 0;
let epoch = 0, batch = 0;
let summary = null;
for await (const rb of reader) {
  const ids = [...rb.getChild('sample_id').toArray()].map(String);
  const epochs = [...rb.getChild('epoch').toArray()];
  const want = exp.sample_ids[n];
  if (!want || JSON.stringify(ids) !== JSON.stringify(want)) bad(`batch ${n}: sample_ids ${ids.slice(0, 4)}…, want ${want && want.slice(0, 4)}…`);
  const md = rb.metadata;
  if (md.get('pairflow.epoch') !== String(epoch) || md.get('pairflow.batch') !== String(batch)) {
    bad(`batch ${n}: tagged ${md.get('pairflow.epoch')}/${md.get('pairflow.batch')}, want ${epoch}/${batch}`);
  }
  rows += rb.numRows;
  crc = crc32(crc, le64(ids));
  crc = crc32(crc, le64(epochs));
  n++;
  if (++batch === exp.batches_per_epoch) { epoch++; batch = 0; }
  summary = md.has('pairflow.stream.batches') ? md : null;
  if (summary && n !== exp.sample_ids.length) bad(`batch ${n - 1}: summary before the last batch`);
}
if (n !== exp.sample_ids.length) bad(`${n} batches, want ${exp.sample_ids.length}`);
if (!summary) bad('no stream summary on the last batch');
else {
  const want = { 'pairflow.stream.batches': String(n), 'pairflow.stream.rows': String(rows),
    'pairflow.stream.crc32': crc.toString(16).padStart(8, '0') };
  for (const [k, v] of Object.entries(want)) if (summary.get(k) !== v) bad(`summary ${k} = ${summary.get(k)}, want ${v}`);
}
if (errs.length) { console.log(errs.join('\n')); process.exit(1); }
console.log(`OK ${n} batches, ${rows} rows, crc32 ${crc.toString(16).padStart(8, '0')}`);
