// summary.mjs computes the stream summary of SCHEMA.md §5.1 from batches read
// by apache-arrow, independently of arrow-go: batch and row counts and the
// CRC-32 (IEEE, as zlib.crc32) over, batch by batch, the sample_id values as
// little-endian uint64 bytes, then the epoch values as little-endian int64.
const table = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(crc, bytes) {
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

// Summary accumulates batches; summary.metadata() gives the expected
// pairflow.stream.* values as strings.
export class Summary {
  constructor() { this.batches = 0; this.rows = 0; this.crc = 0; }
  add(rb) {
    this.batches++;
    this.rows += rb.numRows;
    this.crc = crc32(this.crc, le64([...rb.getChild('sample_id').toArray()]));
    this.crc = crc32(this.crc, le64([...rb.getChild('epoch').toArray()]));
  }
  metadata() {
    return {
      'pairflow.stream.batches': String(this.batches),
      'pairflow.stream.rows': String(this.rows),
      'pairflow.stream.crc32': this.crc.toString(16).padStart(8, '0'),
    };
  }
}

// checkSummaries checks that only the last batch carries the summary and that
// it matches the batches; it returns a list of problems.
export function checkSummaries(batches) {
  const errs = [];
  const s = new Summary();
  batches.forEach((rb, i) => {
    s.add(rb);
    const md = rb.metadata;
    const has = md.has('pairflow.stream.batches');
    if (has !== (i === batches.length - 1)) errs.push(`batch ${i} of ${batches.length}: summary present ${has}`);
    if (i === batches.length - 1) {
      for (const [k, v] of Object.entries(s.metadata())) {
        if (md.get(k) !== v) errs.push(`summary ${k} = ${md.get(k)}, want ${v}`);
      }
    }
  });
  return errs;
}
