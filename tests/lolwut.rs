//! LOLWUT: ferrokv's own art, ending with its version line.

mod common;

#[test]
fn lolwut_is_a_bulk_string_ending_with_the_version_line() {
    let s = common::Server::start();
    let mut raw = s.raw();
    let last = format!("ferrokv ver. {}\n", env!("CARGO_PKG_VERSION"));
    for args in [
        &["LOLWUT"][..],
        &["LOLWUT", "VERSION", "5", "1", "2"][..],
        &["lolwut", "x"][..],
    ] {
        let reply = raw.cmd(args);
        assert_eq!(reply[0], b'$', "{args:?}");
        let body = String::from_utf8(reply).unwrap();
        let text = body
            .split_once("\r\n")
            .unwrap()
            .1
            .strip_suffix("\r\n")
            .unwrap();
        assert!(text.ends_with(&format!("\n{last}")), "{args:?}: {text}");
        assert!(text.lines().count() > 3, "{text}");
    }
    assert_eq!(
        raw.cmd(&["LOLWUT", "VERSION", "abc"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    // RESP3: a verbatim text string, like Redis.
    raw.cmd(&["HELLO", "3"]);
    let reply = raw.cmd(&["LOLWUT"]);
    assert!(reply.starts_with(b"="), "{reply:?}");
    assert!(reply.ends_with(format!("{last}\r\n").as_bytes()));
}
