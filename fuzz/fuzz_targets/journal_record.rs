#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seismo::fuzzing::journal_record(data));
