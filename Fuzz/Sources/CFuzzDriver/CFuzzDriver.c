// Only the header matters: it declares libFuzzer's driver entry point for Swift.
#include "CFuzzDriver.h"
