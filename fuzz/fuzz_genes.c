/* libFuzzer target: genes files (impasto breed's child<i>.genes.safetensors: a style's relu4_1
 * statistics). Built and run by `make fuzz`; see fuzz/fuzz_targets.h and docs/robustness.md. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int well_formed;
    fuzz_run_genes(data, size, &well_formed);
    if (!well_formed) __builtin_trap();
    return 0;
}
