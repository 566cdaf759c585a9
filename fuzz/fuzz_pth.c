/* libFuzzer target: PyTorch checkpoints (src/formats/: the zip reader, the legacy layout and the
 * restricted unpickler), then every float tensor read through its strides.
 * Built and run by `make fuzz`; see fuzz/fuzz_targets.h and docs/robustness.md. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int well_formed;
    fuzz_run_pth(data, size, &well_formed);
    if (!well_formed) __builtin_trap();
    return 0;
}
