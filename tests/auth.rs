//! `requirepass`: unauthenticated clients are refused until AUTH or
//! HELLO … AUTH succeeds, with Redis's replies.

mod common;

#[test]
fn requirepass_gates_commands_until_auth() {
    let s = common::Server::start_with(&["--requirepass", "secret"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(
        r.cmd_str(&["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    let wrong = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(r.cmd(&["AUTH", "wrong"]), wrong);
    assert_eq!(r.cmd(&["AUTH", "default", "wrong"]), wrong);
    assert_eq!(r.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(r.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(r.cmd(&["PING"]), b"-NOAUTH Authentication required.\r\n");

    let mut h = s.raw();
    assert!(h
        .cmd_str(&["HELLO", "3", "AUTH", "default", "secret"])
        .starts_with("%7\r\n"));
    assert_eq!(h.cmd(&["PING"]), b"+PONG\r\n");

    // Unauthenticated clients get tiny request limits, as in Redis.
    let mut big = s.raw();
    big.send(b"*11\r\n");
    assert_eq!(
        big.read_frame(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(big.is_closed());
}

#[test]
fn auth_without_password_configured() {
    let s = common::Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.cmd_str(&["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(r.cmd(&["AUTH", "default", "anything"]), b"+OK\r\n");
}
