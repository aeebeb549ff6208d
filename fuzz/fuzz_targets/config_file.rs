//! The server's config file (`alexa-link-config`), as an operator or a
//! person writes it.
//!
//! Checked: parsing and validation never panic, and a valid config survives
//! the trip the operator makes it take (rendered to YAML, parsed back)
//! unchanged and still valid.
#![no_main]

use alexa_link_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_yaml(text) else {
        return;
    };
    if config.validate().is_ok() {
        let rendered = config.to_yaml();
        let back = Config::from_yaml(&rendered).expect("a rendered config parses");
        assert_eq!(back, config, "{rendered}");
        assert!(back.validate().is_ok(), "{rendered}");
    }
});
