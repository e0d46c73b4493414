#![no_main]
//! The rpm header parser and the database readers (sqlite, NDB, BDB) never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_catalog::rpm::header::parse(data);
    let _ = portcullis_catalog::rpm::package_from_header(data, "fuzz", None);
    let _ = portcullis_catalog::rpm::parse_database(data, "var/lib/rpm/Packages", None);
});
