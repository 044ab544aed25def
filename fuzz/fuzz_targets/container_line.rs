#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| seismo::fuzzing::container_line(data));
