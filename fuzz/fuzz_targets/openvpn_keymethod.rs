#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapclient::fuzzing::openvpn_keymethod(data));
