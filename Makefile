# impasto — build with `make`; `make test` runs everything CI runs; `make SANITIZE=1 test` under ASan+UBSan.
# Sources are found by wildcard: a new file in src/<module>/ joins the library, tests/test_*.c become test binaries.

CC       ?= cc
OPT      ?= -O2
CFLAGS   += $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -fPIC -fopenmp \
            -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp
# OpenBLAS's OpenMP build: it shares impasto's one OpenMP thread pool and is safe to call from
# inside a parallel region (the pthread build races when called concurrently, and its own
# workers spin against OpenMP's for the same cores).
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS   += -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lpng -ljpeg -lcjson -lm -fopenmp -lpthread
BUILD    ?= build

ifeq ($(SANITIZE),1)
  BUILD  := build-san
  CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDLIBS += -fsanitize=address,undefined
endif

LIB_SRC  := $(wildcard src/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

UPSTREAM ?= ../shared/models/upstream
IMAGES   ?= ../shared/images

.PHONY: all test clean models example bench
all: $(BUILD)/impasto $(BUILD)/libimpasto.a $(BUILD)/libimpasto.so $(EX_BIN) $(BENCH_BIN) $(TEST_BIN)

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h tests/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libimpasto.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libimpasto.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/impasto: $(CLI_OBJ) $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libimpasto.a
	$(CC) -o $@ $^ $(LDLIBS)

# Converted weights are made from the upstream files, never committed (docs/models.md says where to get them).
models: models/vgg19.safetensors
models/vgg19.safetensors: $(BUILD)/impasto
	@mkdir -p models
	$(BUILD)/impasto convert vgg19 $(UPSTREAM)/vgg19-imagenet-f32-head $(UPSTREAM)/vgg19-imagenet-uint8 -o $@

# The main job on the bundled example: the photo repainted in the style of the bundled painting.
example: all models
	$(BUILD)/impasto transfer -c examples/images/horses.jpg -s examples/images/scream.jpg \
	    --image-size 256 --num-iterations 200 -o example-out.png

test: all models
	IMPASTO_BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN)

bench: all models
	/usr/bin/python3 bench/gatys_bench.py --driver $(BUILD)/bench/bench_gatys --model models/vgg19.safetensors $(BENCH_ARGS)

clean:
	rm -rf build build-san
