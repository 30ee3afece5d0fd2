# benchmarks/store.mk - cmk-store-bench: store vs cipher-layer throughput and
# KEK rotation cost (prints JSON lines; see benchmarks/store_bench.c).

STORE_BENCH_OBJS := $(O)/benchmarks/store_bench.o
PROGRAMS += $(BIN)/cmk-store-bench

$(STORE_BENCH_OBJS): CPPFLAGS += -Iengine/include

$(BIN)/cmk-store-bench: $(STORE_BENCH_OBJS) $(ENGINE_LIB) | $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(ENGINE_LIBS) -lm
