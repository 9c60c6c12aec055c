//! Fuzz the CSV-to-response mapping: any bytes, as one input, through the
//! reader (see `thematic::ingest::fuzz_mapping` for the options the
//! length picks and the invariants checked). Needs nightly:
//! `cargo +nightly fuzz run input_mapping`. On stable, the ignored test
//! `input::fuzz_input_mapping` runs the same function over mutated inputs
//! (docs/FUZZING.md, "Input mapping").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = thematic::ingest::fuzz_mapping(data);
});
