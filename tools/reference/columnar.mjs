// Writes preference rows as Arrow IPC and Parquet files with the real libraries, and reads each file
// back with them: prefer's readers must give the same rows (tests/io/columnar_reference_test.cpp).
//
//   node columnar.mjs ROWS.json OUT_DIR   ->  OUT_DIR/<name>.{arrow,parquet} and a save_to_disk folder,
//                                             and prints {"<file>": [rows as the libraries read them]}
//
// Arrow (apache-arrow): the stream format (what `datasets` writes) and the file format; a save_to_disk
// folder of two shards; tableFromJSON's inferred types (dictionary-encoded strings, lists of structs,
// Float64, Bool) and explicit ones (Utf8, Int64, Float32, Int32). Parquet (parquet-wasm, i.e. arrow-rs):
// uncompressed, SNAPPY, GZIP and ZSTD, dictionary on and off, writer versions 1 and 2; and
// hyparquet-writer's own files (data pages v2, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
// DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT).
import fs from 'node:fs';
import path from 'node:path';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';

const [rowsFile, outDir] = process.argv.slice(2);
const rows = JSON.parse(fs.readFileSync(rowsFile, 'utf8'));
fs.mkdirSync(outDir, { recursive: true });

// Explicit types for the columns tableFromJSON would guess differently.
function typedTable(rs) {
  const utf8 = (k) => arrow.vectorFromArray(rs.map((r) => r[k] ?? null), new arrow.Utf8());
  const message = new arrow.Struct([
    new arrow.Field('role', new arrow.Utf8(), true),
    new arrow.Field('content', new arrow.Utf8(), true),
  ]);
  return new arrow.Table({
    prompt: arrow.vectorFromArray(rs.map((r) => r.prompt), new arrow.List(new arrow.Field('item', message, true))),
    chosen: arrow.vectorFromArray(rs.map((r) => r.chosen), new arrow.List(new arrow.Field('item', message, true))),
    rejected: arrow.vectorFromArray(rs.map((r) => r.rejected), new arrow.List(new arrow.Field('item', message, true))),
    topic: utf8('topic'),
    id: arrow.vectorFromArray(rs.map((r) => BigInt(r.id)), new arrow.Int64()),
    score: arrow.vectorFromArray(rs.map((r) => r.score), new arrow.Float32()),
    margin: arrow.vectorFromArray(rs.map((r) => r.margin), new arrow.Float64()),
    flag: arrow.vectorFromArray(rs.map((r) => r.flag), new arrow.Bool()),
    tags: arrow.vectorFromArray(rs.map((r) => r.tags), new arrow.List(new arrow.Field('item', new arrow.Int32(), true))),
  });
}

const plain = (v) => JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? Number(x) : x)));
const fromArrow = (bytes) => plain(arrow.tableFromIPC(bytes).toArray().map((r) => r.toJSON()));

const reference = {};
const write = (name, bytes, readBack) => {
  const file = path.join(outDir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  reference[name] = readBack(bytes);
};

const typed = typedTable(rows);
// tableFromJSON guesses dictionary-encoded strings (and cannot guess lists of structs).
const last = (m) => m[m.length - 1].content;
const guessed = arrow.tableFromJSON(rows.map((r) => ({ prompt: last(r.prompt), chosen: last(r.chosen), rejected: last(r.rejected), topic: r.topic ?? 'none', flag: r.flag })));
write('typed.stream.arrow', arrow.tableToIPC(typed, 'stream'), fromArrow);
write('typed.file.arrow', arrow.tableToIPC(typed, 'file'), fromArrow);
write('guessed.stream.arrow', arrow.tableToIPC(guessed, 'stream'), fromArrow);

// A save_to_disk folder: two shards listed in state.json, as datasets writes them.
const half = Math.ceil(rows.length / 2);
const shards = [rows.slice(0, half), rows.slice(half)];
const saved = [];
shards.forEach((part, i) => {
  const name = `data-0000${i}-of-00002.arrow`;
  write(path.join('saved', name), arrow.tableToIPC(typedTable(part), 'stream'), fromArrow);
  saved.push(...reference[path.join('saved', name)]);
});
fs.writeFileSync(path.join(outDir, 'saved', 'state.json'),
  JSON.stringify({ _data_files: [{ filename: 'data-00000-of-00002.arrow' }, { filename: 'data-00001-of-00002.arrow' }],
    _fingerprint: 'f00d', _format_columns: null, _format_kwargs: {}, _format_type: null, _output_all_columns: false, _split: null }));
fs.writeFileSync(path.join(outDir, 'saved', 'dataset_info.json'), JSON.stringify({ citation: '', description: '', features: {} }));
reference.saved = saved;

// Parquet through arrow-rs, read back by hyparquet (an independent reader).
const fromParquet = async (bytes) => plain(await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), compressors }));
const wasmTable = () => pw.Table.fromIPCStream(arrow.tableToIPC(typed, 'stream'));
const codecs = { uncompressed: pw.Compression.UNCOMPRESSED, snappy: pw.Compression.SNAPPY, gzip: pw.Compression.GZIP, zstd: pw.Compression.ZSTD };
const variants = { v1: [pw.WriterVersion.V1, true], v2: [pw.WriterVersion.V2, true], plain: [pw.WriterVersion.V1, false] };
const pending = [];
for (const [codec, c] of Object.entries(codecs)) {
  for (const [variant, [version, dict]] of Object.entries(variants)) {
    const props = new pw.WriterPropertiesBuilder().setCompression(c).setWriterVersion(version).setDictionaryEnabled(dict).build();
    pending.push([`${codec}.${variant}.parquet`, pw.writeParquet(wasmTable(), props)]);
  }
}
// hyparquet-writer: flat columns with its own encodings and page layout (DATA_PAGE_V2, SNAPPY).
pending.push(['hyparquet.parquet', new Uint8Array(parquetWriteBuffer({
  columnData: [
    { name: 'prompt', data: rows.map((r) => last(r.prompt)), type: 'STRING' },
    { name: 'topic', data: rows.map((r) => r.topic), type: 'STRING' },
    { name: 'chosen', data: rows.map((r) => last(r.chosen)), type: 'STRING' },
    { name: 'rejected', data: rows.map((r) => last(r.rejected)), type: 'STRING' },
    { name: 'id', data: rows.map((r) => BigInt(r.id)), type: 'INT64' },
    { name: 'count', data: rows.map((r) => r.id * 3), type: 'INT32', encoding: 'DELTA_BINARY_PACKED' },
    { name: 'margin', data: rows.map((r) => r.margin), type: 'DOUBLE' },
    { name: 'flag', data: rows.map((r) => r.flag), type: 'BOOLEAN' },
  ],
}))]);
// Every other encoding hyparquet-writer has, null values included.
pending.push(['hyparquet.encodings.parquet', new Uint8Array(parquetWriteBuffer({
  columnData: [
    { name: 'prompt', data: rows.map((r) => last(r.prompt)), type: 'STRING', encoding: 'DELTA_LENGTH_BYTE_ARRAY' },
    { name: 'chosen', data: rows.map((r) => last(r.chosen)), type: 'STRING', encoding: 'DELTA_BYTE_ARRAY' },
    { name: 'rejected', data: rows.map((r) => last(r.rejected)), type: 'STRING', encoding: 'PLAIN' },
    { name: 'topic', data: rows.map((r) => r.topic), type: 'STRING', encoding: 'DELTA_BYTE_ARRAY' },
    { name: 'margin', data: rows.map((r) => r.margin), type: 'DOUBLE', encoding: 'BYTE_STREAM_SPLIT' },
    { name: 'score', data: rows.map((r) => r.score), type: 'FLOAT', encoding: 'BYTE_STREAM_SPLIT' },
  ],
}))]);
for (const [name, bytes] of pending) {
  write(name, bytes, () => null);
  reference[name] = await fromParquet(bytes);
}

process.stdout.write(JSON.stringify(reference));
