# Thin wrapper over CMake: the two commands README.md starts with, plus bench.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
SOAK_SECONDS ?= 120
FUZZ_TARGETS = gguf wire config http_json tokenizer chat worker coordinator
JOBS       ?= $(shell nproc)
MODEL      ?= ../shared/models/stories260K.gguf

.PHONY: all deps build asan tsan fuzz soak test test-release test-asan test-tsan demo bench bench-pool clean

all: build

deps:
	@./scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLP_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLP_TSAN=ON >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# Every test in the release build, then every test again under ASan+UBSan
# (the e2e tests then drive sanitized coord binaries too), then the tests
# that run threads under ThreadSanitizer, then each fuzzer for FUZZ_SECONDS,
# then the soak (a pool under load and faults) for SOAK_SECONDS.
test: test-release test-asan test-tsan fuzz soak

# A local pool of 3 under 6 clients for SOAK_SECONDS, a worker killed or
# stopped every 30 s: every text must be the undisturbed one (bench/soak.sh).
soak: build
	SECONDS_TOTAL=$(SOAK_SECONDS) ./bench/soak.sh $(BUILD) $(MODEL)

# The libFuzzer harnesses of fuzz/ (clang, ASan+UBSan), each run for
# FUZZ_SECONDS from its seeds (scripts/fuzz.sh); a crash fails the target.
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLP_FUZZ=ON -DLP_TESTS=OFF >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS)) worker
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# The tests labelled tsan (CMakeLists.txt says which and why). Every process
# they start (workers, coord) writes its reports to TSAN_REPORTS, and any
# report fails the target, also from a worker a test killed before it could
# exit with TSan's status. GCC 12's TSan runtime dies with "unexpected
# memory mapping" where the kernel randomizes mmap with more bits than it
# expects (vm.mmap_rnd_bits above 28): the tests run with randomization
# off (setarch -R) wherever the kernel allows that.
TSAN_REPORTS = $(abspath $(TSAN_BUILD))/tsan-reports
NO_ASLR := $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)

test-tsan: tsan
	rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	rc=0; TSAN_OPTIONS="suppressions=$(CURDIR)/tsan.supp log_path=$(TSAN_REPORTS)/report" \
	  $(NO_ASLR) ctest --test-dir $(TSAN_BUILD) -L tsan --output-on-failure -j $(JOBS) || rc=$$?; \
	  if [ -n "$$(ls -A $(TSAN_REPORTS))" ]; then \
	    cat $(TSAN_REPORTS)/*; echo "ThreadSanitizer reported the above (in $(TSAN_REPORTS))"; \
	    exit 1; fi; exit $$rc

demo: build
	./scripts/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD) $(MODEL)

# A pool of 1-3 workers over capped links (root: namespaces, tc); charts in bench-pool-out/.
bench-pool: build
	$(BUILD)/coord bench-pool -m $(or $(MODEL),../shared/models/stories260K.gguf) -o bench-pool-out

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
