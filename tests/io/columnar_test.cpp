// The Arrow IPC and Parquet readers on files written by the real libraries (tests/fixtures/columnar,
// made by tools/reference/columnar.mjs from rows.json), and on those files damaged: every truncation
// and many byte flips must give rows or a prefer::Error, never a crash (this suite also runs under
// AddressSanitizer + UBSan).
#include <random>

#include "io/columnar.h"
#include "io/records.h"
#include "test_util.h"
#include "util/file.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {

const char* kFiles[] = {"typed.stream.arrow", "typed.file.arrow", "guessed.stream.arrow", "snappy.v1.parquet", "zstd.v2.parquet", "hyparquet.parquet", "hyparquet.encodings.parquet"};

OrderedJson expected_rows() { return OrderedJson::parse(read_file(test::fixture("columnar/rows.json"))); }

std::vector<OrderedJson> rows_of(const fs::path& f) {
  std::vector<OrderedJson> out;
  for (auto& r : read_records(f)) out.push_back(std::move(r.value));
  return out;
}

}  // namespace

TEST(Columnar, ArrowStreamFromApacheArrowHoldsTheRows) {
  std::vector<OrderedJson> rows = rows_of(test::fixture("columnar/typed.stream.arrow"));
  OrderedJson want = expected_rows();
  ASSERT_EQ(rows.size(), want.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["chosen"], want[i]["chosen"]) << i;
    EXPECT_EQ(rows[i]["prompt"], want[i]["prompt"]) << i;
    EXPECT_EQ(rows[i]["id"].get<int64_t>(), want[i]["id"].get<int64_t>()) << i;
    EXPECT_EQ(rows[i]["tags"], want[i]["tags"]) << i;
    EXPECT_FLOAT_EQ(rows[i]["score"].get<float>(), want[i]["score"].get<float>()) << i;
  }
}

TEST(Columnar, DictionaryEncodedStringsAreLookedUp) {
  std::vector<OrderedJson> rows = rows_of(test::fixture("columnar/guessed.stream.arrow"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2]["topic"], "math");
  EXPECT_EQ(rows[1]["topic"], "none");
  EXPECT_EQ(rows[1]["chosen"], "Bonjour — ça va ? 🙂");
}

TEST(Columnar, ParquetFromArrowRsAndHyparquetHoldsTheRows) {
  OrderedJson want = expected_rows();
  for (const char* name : {"snappy.v1.parquet", "zstd.v2.parquet"}) {
    std::vector<OrderedJson> rows = rows_of(test::fixture(std::string("columnar/") + name));
    ASSERT_EQ(rows.size(), 3u) << name;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(rows[i]["prompt"], want[i]["prompt"]) << name;
      EXPECT_EQ(rows[i]["chosen"], want[i]["chosen"]) << name;
      EXPECT_EQ(rows[i]["rejected"], want[i]["rejected"]) << name;
      EXPECT_EQ(rows[i]["tags"], want[i]["tags"]) << name;
      EXPECT_EQ(rows[i]["margin"], want[i]["margin"]) << name;
    }
  }
  std::vector<OrderedJson> flat = rows_of(test::fixture("columnar/hyparquet.parquet"));
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat[2]["count"], 9);  // DELTA_BINARY_PACKED
  EXPECT_EQ(flat[1]["flag"], false);
  EXPECT_TRUE(flat[1]["topic"].is_null());
  EXPECT_EQ(flat[1]["prompt"], "Say hello.");
}

TEST(Columnar, DamagedFilesGiveErrorsNotCrashes) {
  test::TempDir tmp;
  std::mt19937 rng(7);
  size_t errors = 0, reads = 0;
  for (const char* name : kFiles) {
    const std::string bytes = read_file(test::fixture(std::string("columnar/") + name));
    const fs::path f = tmp / (std::string("damaged") + fs::path(name).extension().string());
    auto attempt = [&](const std::string& b) {
      test::write_bytes(f, b);
      try {
        read_records(f);
        ++reads;
      } catch (const Error&) {
        ++errors;
      }
    };
    for (size_t n = 0; n < bytes.size(); n += 3) attempt(bytes.substr(0, n));
    for (int k = 0; k < 300; ++k) {
      std::string b = bytes;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) b[rng() % b.size()] = static_cast<char>(rng());
      attempt(b);
    }
  }
  EXPECT_GT(errors, 1000u);  // truncations must be noticed
  EXPECT_GT(reads, 0u);      // flips inside string bytes still read
}

TEST(Columnar, SaveToDiskFolderReadsItsShardsInOrder) {
  test::TempDir tmp;
  fs::copy_file(test::fixture("columnar/typed.stream.arrow"), tmp / "data-00000-of-00002.arrow");
  fs::copy_file(test::fixture("columnar/typed.stream.arrow"), tmp / "data-00001-of-00002.arrow");
  test::write_bytes(tmp / "state.json", R"({"_data_files": [{"filename": "data-00001-of-00002.arrow"}, {"filename": "data-00000-of-00002.arrow"}]})");
  std::vector<Record> rows = read_records(tmp.path());
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(fs::path(rows[0].where.file).filename(), "data-00001-of-00002.arrow");
  EXPECT_EQ(rows[4].where.line, 2);

  test::write_bytes(tmp / "state.json", R"({"_data_files": [{"filename": "../secret.arrow"}]})");
  EXPECT_ERROR_WITH(read_records(tmp.path()), "state.json", "_data_files", "plain file name");
  test::write_bytes(tmp / "state.json", R"({"_data_files": [{"filename": "missing.arrow"}]})");
  EXPECT_ERROR_WITH(read_records(tmp.path()), "missing.arrow", "not in the folder");
}

TEST(Columnar, FoldersSayWhatTheyHold) {
  test::TempDir tmp;
  fs::create_directories(tmp / "dict" / "train");
  fs::create_directories(tmp / "dict" / "test");
  test::write_bytes(tmp / "dict" / "dataset_dict.json", R"({"splits": ["train", "test"]})");
  EXPECT_ERROR_WITH(read_records(tmp / "dict"), "DatasetDict", "--data", "train", "test");
  fs::create_directories(tmp / "empty");
  EXPECT_ERROR_WITH(read_records(tmp / "empty"), "without a dataset");
  fs::create_directories(tmp / "hub" / "data");
  fs::copy_file(test::fixture("columnar/zstd.v2.parquet"), tmp / "hub" / "data" / "train-00001-of-00002.parquet");
  fs::copy_file(test::fixture("columnar/snappy.v1.parquet"), tmp / "hub" / "data" / "train-00000-of-00002.parquet");
  std::vector<RecordFile> files = record_files(tmp / "hub" / "data");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path.filename(), "train-00000-of-00002.parquet");
  EXPECT_EQ(files[0].format, RecordFormat::Parquet);
  EXPECT_EQ(read_records(tmp / "hub" / "data").size(), 6u);
}

TEST(Columnar, FormatComesFromTheBytesNotTheName) {
  test::TempDir tmp;
  fs::copy_file(test::fixture("columnar/snappy.v1.parquet"), tmp / "pairs.jsonl");
  EXPECT_EQ(record_files(tmp / "pairs.jsonl")[0].format, RecordFormat::Parquet);
  EXPECT_EQ(read_records(tmp / "pairs.jsonl").size(), 3u);
  test::write_bytes(tmp / "a.json", "  [{\"text\": \"x\"}, {\"text\": \"y\"}]");
  EXPECT_EQ(record_files(tmp / "a.json")[0].format, RecordFormat::JsonArray);
  EXPECT_EQ(read_records(tmp / "a.json")[1].where.line, 2);
}

TEST(Columnar, JsonlBadLinesGoToTheCallbackAndReadingGoesOn) {
  test::TempDir tmp;
  test::write_bytes(tmp / "d.jsonl", "{\"a\": 1}\n{oops\n\n{\"a\": 3}\n");
  std::vector<int64_t> lines;
  std::vector<std::string> bad;
  for_each_record(tmp / "d.jsonl", [&](OrderedJson&&, const ErrorContext& w) { lines.push_back(w.line); },
                  [&](const Error& e) { bad.push_back(e.what()); });
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 4}));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("d.jsonl:2"), std::string::npos) << bad[0];
  EXPECT_ERROR_WITH(read_records(tmp / "d.jsonl"), "d.jsonl:2");
}

}  // namespace prefer::io

namespace prefer::io {

TEST(Columnar, FuzzFindingsAreErrors) {
  // Inputs libFuzzer found (scripts/fuzz.sh, docs/fuzzing.md): each once ended the process (a JSON
  // exception from a non-UTF-8 column name, a number past double) or looped for minutes (an Arrow batch
  // without columns claiming 2^62 rows). Each must now be a prefer::Error naming the file, quickly.
  for (const auto& e : fs::directory_iterator(test::fixture("fuzz"))) {
    const std::string name = e.path().filename().string();
    EXPECT_ERROR_WITH(for_each_record(e.path(), [](OrderedJson&& r, const ErrorContext&) { (void)r.dump(); }), name.c_str());
  }
}

}  // namespace prefer::io
