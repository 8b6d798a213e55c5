# The two commands of the README: `make demo` and `make test`. Both set up, build, then run.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: setup build demo test test-asan clean

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

# The demo needs only the executable: no tests or benchmarks to build first.
demo: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS) --target prefer
	./$(BUILD)/prefer demo

# Everything: unit and e2e suites, then the torch-free layers' unit tests again under AddressSanitizer +
# UBSan (they parse untrusted files; their e2e checks against Hugging Face's JS libraries ran above).
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-asan

test-asan: setup
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPREFER_WITH_TORCH=OFF -DPREFER_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS) -L unit

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
