//! Golden-bit tests: committed parameter bits that every platform and build
//! profile must reproduce.
