// check.mjs reads pairflow Arrow IPC streams with the npm apache-arrow
// package -- an implementation independent of arrow-go -- and compares each
// against the expectations in its JSON sidecar (written by TestJSInterop):
// schema metadata, column names and types, field nullability, the
// arrow.fixed_shape_tensor extension metadata, tensor shapes, batch sizes and
// every value, and (schema version 2) the stream summary. Usage: node check.mjs SIDECAR.json... ; exit status 1 on any
// mismatch.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { tableFromIPC, Type, Precision } from 'apache-arrow';
import { checkSummaries } from './summary.mjs';

// desc writes a type in SCHEMA.md's notation.
function desc(type) {
  switch (type.typeId) {
    case Type.Int: return (type.isSigned ? 'int' : 'uint') + type.bitWidth;
    case Type.Float:
      return { [Precision.HALF]: 'float16', [Precision.SINGLE]: 'float32', [Precision.DOUBLE]: 'float64' }[type.precision];
    case Type.Bool: return 'bool';
    case Type.Utf8: return 'utf8';
    case Type.FixedSizeList: return `fixed_size_list<${field(type.children[0])}>[${type.listSize}]`;
    case Type.List: return `list<${field(type.children[0])}>`;
    case Type.Struct: return `struct<${type.children.map(field).join(', ')}>`;
    default: return `unexpected(${type})`;
  }
}
const field = (f) => `${f.name}: ${desc(f.type)}${f.nullable ? '?' : ''}`;

// plain turns a value read by apache-arrow into JSON-like data: 64-bit
// integers as decimal strings, lists as arrays, structs as objects.
function plain(type, v) {
  if (v === null || v === undefined) return null;
  switch (type.typeId) {
    case Type.Int: return type.bitWidth === 64 ? BigInt(v).toString() : v;
    case Type.Float: case Type.Bool: case Type.Utf8: return v;
    case Type.FixedSizeList: case Type.List: {
      const out = [];
      for (let j = 0; j < v.length; j++) out.push(plain(type.children[0].type, v.get(j)));
      return out;
    }
    case Type.Struct: {
      const out = {};
      for (const f of type.children) out[f.name] = plain(f.type, v[f.name]);
      return out;
    }
    default: throw new Error(`unexpected type ${type}`);
  }
}

function check(sidecar) {
  const exp = JSON.parse(readFileSync(sidecar, 'utf8'));
  const errs = [];
  const bad = (msg) => { if (errs.length < 20) errs.push(msg); };
  const table = tableFromIPC(readFileSync(join(dirname(sidecar), exp.file)));
  const batches = table.batches;
  const schema = table.schema;

  // Schema metadata: pairflow keys exactly, the recipe compared as JSON.
  for (const [k, want] of Object.entries(exp.metadata)) {
    const got = schema.metadata.get(k);
    const same = k === 'pairflow.recipe' ? got !== undefined && isDeepStrictEqual(JSON.parse(got), JSON.parse(want)) : got === want;
    if (!same) bad(`schema metadata ${k} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }

  // Columns: names, order, types, nullability, extension metadata.
  const names = schema.fields.map((f) => f.name);
  const wantNames = exp.columns.map((c) => c.name);
  if (!isDeepStrictEqual(names, wantNames)) bad(`columns ${JSON.stringify(names)}, want ${JSON.stringify(wantNames)}`);
  for (const c of exp.columns) {
    const f = schema.fields.find((x) => x.name === c.name);
    if (!f) continue;
    const got = desc(f.type) + (f.nullable ? '?' : '');
    if (got !== c.type) bad(`column ${c.name}: type ${got}, want ${c.type}`);
    const extName = f.metadata.get('ARROW:extension:name');
    const extMeta = f.metadata.get('ARROW:extension:metadata');
    if (c.extension === null) {
      if (extName !== undefined) bad(`column ${c.name}: unexpected extension ${extName}`);
      continue;
    }
    if (extName !== c.extension.name) bad(`column ${c.name}: ARROW:extension:name ${extName}, want ${c.extension.name}`);
    let meta = null;
    try { meta = JSON.parse(extMeta); } catch (e) { bad(`column ${c.name}: ARROW:extension:metadata ${extMeta} is not JSON`); continue; }
    if (!isDeepStrictEqual(meta, c.extension.metadata)) {
      bad(`column ${c.name}: ARROW:extension:metadata ${extMeta}, want ${JSON.stringify(c.extension.metadata)}`);
    }
    // The spec's rule: storage is fixed_size_list with list_size = product(shape).
    const n = (meta.shape || []).reduce((a, b) => a * b, 1);
    if (f.type.typeId !== Type.FixedSizeList || f.type.listSize !== n) {
      bad(`column ${c.name}: storage ${desc(f.type)} does not hold product(shape ${JSON.stringify(meta.shape)}) = ${n} values`);
    }
  }

  // Batches and values.
  const sizes = batches.map((b) => b.numRows);
  if (!isDeepStrictEqual(sizes, exp.batches)) bad(`batch sizes ${JSON.stringify(sizes)}, want ${JSON.stringify(exp.batches)}`);
  for (const [name, want] of Object.entries(exp.values)) {
    const f = schema.fields.find((x) => x.name === name);
    if (!f) { bad(`no column ${name}`); continue; }
    const got = [];
    for (const b of batches) {
      const col = b.getChild(name);
      for (let i = 0; i < b.numRows; i++) got.push(plain(f.type, col.get(i)));
    }
    if (got.length !== want.length) { bad(`column ${name}: ${got.length} values, want ${want.length}`); continue; }
    for (let i = 0; i < want.length; i++) {
      if (!isDeepStrictEqual(got[i], want[i])) {
        bad(`column ${name} row ${i}: ${JSON.stringify(got[i])}, want ${JSON.stringify(want[i])}`);
      }
    }
  }
  // Schema version 2: the last batch carries the stream summary (SCHEMA.md §5.1).
  if (schema.metadata.get('pairflow.schema_version') === '2') for (const e of checkSummaries(batches)) bad(e);
  return errs;
}

let failed = false;
for (const sidecar of process.argv.slice(2)) {
  let errs;
  try { errs = check(sidecar); } catch (e) { errs = [`${e.stack || e}`]; }
  if (errs.length === 0) {
    console.log(`OK ${sidecar}`);
  } else {
    failed = true;
    console.log(`MISMATCH ${sidecar}`);
    for (const e of errs) console.log(`  ${e}`);
  }
}
if (process.argv.length < 3) { console.log('usage: node check.mjs SIDECAR.json...'); failed = true; }
process.exit(failed ? 1 : 0);
