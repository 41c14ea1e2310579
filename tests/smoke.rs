//! Start-up and basic round trips through a real client.

mod common;

#[test]
fn ping_set_get_through_redis_crate() {
    let server = common::Server::start();
    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "missing"]), b"$-1\r\n");
}
