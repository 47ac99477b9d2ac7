# The two README commands: `make demo` and `make test`. Both bootstrap the machine first.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all bootstrap build test test-slow test-slurm demo clean format format-check sanitize tsan

all: build

bootstrap:
	scripts/bootstrap

$(BUILD)/CMakeCache.txt: | bootstrap
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: bootstrap $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE slow

# The slow suite (CTest label "slow": tracker parity on a full-size bundle), not part of `test`.
test-slow: build
	cd $(BUILD) && ctest --output-on-failure -L slow

# The real Slurm test of katana batch (scripts/slurm/test-slurm): a one-node cluster on this
# machine runs a 4-task array. It skips (exit 77 -> a SKIP line, make succeeds) when Slurm cannot
# start here, unless KAT_SLURM_REQUIRED=1 (CI), which turns a skip into a failure.
test-slurm: build
	@rc=0; scripts/slurm/test-slurm $(BUILD)/bin/katana || rc=$$?; \
	if [ $$rc -eq 77 ] && [ "$(KAT_SLURM_REQUIRED)" != 1 ]; then echo "test-slurm: SKIPPED"; rc=0; fi; \
	exit $$rc

demo: build
	scripts/demo $(BUILD)

# ASan+UBSan and TSan builds running the C tests (CI runs these). The GStreamer tests are left out:
# gst-launch-1.0 and GStreamer's own threads are not instrumented, so an instrumented plugin cannot
# load into them (ASan) or reports GStreamer's internal synchronisation (TSan).
sanitize: bootstrap
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKAT_SANITIZE=address,undefined -DKAT_WERROR=ON
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS) -LE slow -E '^py_|^gst_|install_consumer'

tsan: bootstrap
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DKAT_SANITIZE=thread -DKAT_WERROR=ON
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && ctest --output-on-failure -j$(JOBS) -LE slow -E '^py_|^gst_|install_consumer'

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan
