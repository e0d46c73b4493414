#![no_main]
//! The zip walker that reads big Java archives by their local headers as they stream by
//! never panics, whatever the archive, and the Java summary built on it neither.
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let mut input = portcullis_catalog::lang::zipstream::Input::new(data);
    let _ = portcullis_catalog::lang::zipstream::walk(&mut input, &mut |_, entry| {
        if let Ok(entry) = entry {
            let _ = entry.take(1 << 20).read_to_end(&mut Vec::new());
        }
        Ok(())
    });
    let size = portcullis_catalog::lang::java::STREAM_FROM;
    let _ = portcullis_catalog::lang::java::summarize_stream(&mut &data[..], size, "fuzz.jar");
});
