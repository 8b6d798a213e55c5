#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer (clang, AddressSanitizer + UBSan), seeded with
# the test fixtures. Not part of `make test`; docs/fuzzing.md records the hours run and what was found.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET=300] [TARGET...]
#
# Crashes land in build-fuzz/findings/<target>/ (crash-*, timeout-*, oom-*); turn each into a
# regression test before fixing it. Needs clang (apt-get install clang), which setup.sh does not install.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_json fuzz_records fuzz_arrow fuzz_parquet fuzz_safetensors fuzz_tokenizer fuzz_jinja)
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found; apt-get install clang" >&2; exit 2; }

build=build-fuzz
cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DPREFER_FUZZ=ON -DPREFER_WITH_TORCH=OFF -DPREFER_BUILD_TESTS=OFF >/dev/null
cmake --build $build -j "${FUZZ_JOBS:-2}" --target "${targets[@]}"

# Seeds: the fixtures each parser reads in the tests.
seed() {
  local dir=$build/corpus/$1; mkdir -p "$dir"; shift
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/" || true; done
}
fx=tests/fixtures
seed fuzz_json $fx/models/*/config.json $fx/models/*/tokenizer_config.json $fx/losses/*.json
seed fuzz_records $fx/columnar/* $fx/losses/*.jsonl
seed fuzz_arrow $fx/columnar/*.arrow
seed fuzz_parquet $fx/columnar/*.parquet
seed fuzz_safetensors $(find $fx/models -name '*.safetensors' -size -64k)
seed fuzz_tokenizer $(find $fx/models -name tokenizer.json -size -256k)
seed fuzz_jinja $(find $fx/templates -name '*.jinja')
# The fixtures' chat templates live inside tokenizer_config.json: one seed file each.
python3 - "$build/corpus/fuzz_jinja" $fx/models/*/tokenizer_config.json <<'PY'
import json, sys, hashlib
for path in sys.argv[2:]:
    t = json.load(open(path)).get("chat_template")
    for src in ([t] if isinstance(t, str) else [x.get("template", "") for x in t or []]):
        if src:
            open(f"{sys.argv[1]}/{hashlib.sha1(src.encode()).hexdigest()}.jinja", "w").write(src)
PY

for t in "${targets[@]}"; do
  mkdir -p $build/findings/$t
  echo "fuzz: $t for ${seconds}s"
  # -rss_limit_mb: a reader that allocates past this on a small input is a finding (a memory bomb).
  (cd $build/findings/$t && ASAN_OPTIONS=detect_leaks=0 ../../fuzz/$t -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -max_len=65536 -print_final_stats=1 ../../corpus/$t 2>&1 | tail -n 12) || echo "fuzz: $t stopped with a finding (see $build/findings/$t)"
done
