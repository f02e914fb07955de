import FuzzSupport

// libFuzzer calls the closure; `fuzz` is also exported as LLVMFuzzerTestOneInput for other drivers.
runFuzzer { data, size in fuzz(data, size) }
