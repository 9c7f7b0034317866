// serve.mjs reads a pairflow serve HTTP stream (tools/serve, docs/serve.md)
// with the npm apache-arrow reader, independently of arrow-go, and checks it:
// every batch's sample_ids against EXPECT.json, the per-batch tags
// pairflow.epoch / pairflow.batch, and the stream summary on the last batch
// (pairflow.stream.batches, .rows, .crc32 recomputed here). Usage:
//   node serve.mjs URL DESCRIPTOR.json EXPECT.json   (POSTs the descriptor)
// Prints OK and exits 0, or prints the mismatches and exits 1.
import { readFileSync } from 'node:fs';
import { RecordBatchReader } from 'apache-arrow';
import { Summary } from './summary.mjs';

const [url, descFile, expFile] = process.argv.slice(2);
const exp = JSON.parse(readFileSync(expFile, 'utf8'));
const errs = [];
const bad = (m) => { if (errs.length < 20) errs.push(m); };

const resp = await fetch(url, { method: 'POST', body: readFileSync(descFile) });
if (resp.status !== 200) throw new Error(`HTTP ${resp.status}: ${await resp.text()}`);
const reader = await RecordBatchReader.from(resp.body);
let n = 0;
const sum = new Summary();
let epoch = 0, batch = 0;
let summary = null;
for await (const rb of reader) {
  const ids = [...rb.getChild('sample_id').toArray()].map(String);
  const want = exp.sample_ids[n];
  if (!want || JSON.stringify(ids) !== JSON.stringify(want)) bad(`batch ${n}: sample_ids ${ids.slice(0, 4)}…, want ${want && want.slice(0, 4)}…`);
  const md = rb.metadata;
  if (md.get('pairflow.epoch') !== String(epoch) || md.get('pairflow.batch') !== String(batch)) {
    bad(`batch ${n}: tagged ${md.get('pairflow.epoch')}/${md.get('pairflow.batch')}, want ${epoch}/${batch}`);
  }
  sum.add(rb);
  n++;
  if (++batch === exp.batches_per_epoch) { epoch++; batch = 0; }
  summary = md.has('pairflow.stream.batches') ? md : null;
  if (summary && n !== exp.sample_ids.length) bad(`batch ${n - 1}: summary before the last batch`);
}
if (n !== exp.sample_ids.length) bad(`${n} batches, want ${exp.sample_ids.length}`);
if (!summary) bad('no stream summary on the last batch');
else {
  for (const [k, v] of Object.entries(sum.metadata())) if (summary.get(k) !== v) bad(`summary ${k} = ${summary.get(k)}, want ${v}`);
}
if (errs.length) { console.log(errs.join('\n')); process.exit(1); }
console.log(`OK ${n} batches, ${sum.rows} rows, crc32 ${sum.metadata()['pairflow.stream.crc32']}`);
