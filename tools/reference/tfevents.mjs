// A TensorBoard event-file reader written from the formats' specifications, independent of prefer's
// writer: TFRecord framing (uint64 length, masked CRC-32C of the length, data, masked CRC-32C of the
// data; every CRC checked) and the Event / Summary / Summary.Value protobuf messages
// (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto).
// Usage: node tfevents.mjs FILE  ->  JSON {file_version, scalars: [{step, tag, value, wall_time}]}
import fs from 'node:fs';

const table = new Uint32Array(256);
for (let n = 0; n < 256; ++n) {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;  // Castagnoli, reflected
  table[n] = c >>> 0;
}
const crc32c = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const masked = (buf) => {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
};

// Protobuf wire format: yields [field, wireType, value] (value: BigInt varint, Buffer, or the 4/8 raw bytes).
function* fields(buf) {
  let p = 0;
  const varint = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << s;
      if (!(b & 0x80)) return v;
      s += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const f = key >>> 3, w = key & 7;
    if (w === 0) yield [f, w, varint()];
    else if (w === 1) { yield [f, w, buf.subarray(p, p + 8)]; p += 8; }
    else if (w === 2) { const n = Number(varint()); yield [f, w, buf.subarray(p, p + n)]; p += n; }
    else if (w === 5) { yield [f, w, buf.subarray(p, p + 4)]; p += 4; }
    else throw new Error(`unsupported wire type ${w}`);
  }
}

const file = process.argv[2];
const data = fs.readFileSync(file);
const out = { file_version: null, scalars: [] };
for (let p = 0; p < data.length;) {
  if (p + 12 > data.length) throw new Error(`truncated record header at byte ${p}`);
  const header = data.subarray(p, p + 8);
  if (masked(header) !== data.readUInt32LE(p + 8)) throw new Error(`length CRC mismatch at byte ${p}`);
  const n = Number(data.readBigUInt64LE(p));
  const body = data.subarray(p + 12, p + 12 + n);
  if (body.length !== n || masked(body) !== data.readUInt32LE(p + 12 + n)) throw new Error(`data CRC mismatch at byte ${p}`);
  p += 12 + n + 4;
  let step = 0, wall = 0;
  const values = [];
  for (const [f, w, v] of fields(body)) {
    if (f === 1 && w === 1) wall = v.readDoubleLE(0);
    else if (f === 2 && w === 0) step = Number(BigInt.asIntN(64, v));
    else if (f === 3 && w === 2) out.file_version = v.toString('utf8');
    else if (f === 5 && w === 2)
      for (const [sf, sw, sv] of fields(v)) {
        if (sf !== 1 || sw !== 2) continue;
        let tag = null, value = null;
        for (const [vf, vw, vv] of fields(sv)) {
          if (vf === 1 && vw === 2) tag = vv.toString('utf8');
          else if (vf === 2 && vw === 5) value = vv.readFloatLE(0);
        }
        if (tag !== null && value !== null) values.push({ tag, value });
      }
  }
  for (const v of values) out.scalars.push({ step, tag: v.tag, value: Number.isNaN(v.value) ? 'NaN' : v.value, wall_time: wall });
}
console.log(JSON.stringify(out));
