//! List commands through the real server: edge cases and large lists
//! whose elements span many nodes.

mod common;

use common::Server;

#[test]
fn pushes_pops_and_null_shapes() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd(&["LPOP", "nokey"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["LPOP", "nokey", "1"]), b"*-1\r\n");
    assert_eq!(c.cmd(&["RPUSH", "l", "a", "b", "c"]), b":3\r\n");
    assert_eq!(c.cmd(&["LPOP", "l", "0"]), b"*0\r\n");
    assert_eq!(
        c.cmd(&["LPOP", "l", "-1"]),
        &b"-ERR value is out of range, must be positive\r\n"[..]
    );
    assert_eq!(
        c.cmd(&["RPOP", "l", "9223372036854775807"]),
        b"*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "l"]), b":0\r\n");
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["LPOP", "nokey"]), b"_\r\n");
    assert_eq!(c.cmd(&["LPOP", "nokey", "2"]), b"_\r\n");
}

#[test]
fn binary_elements_round_trip() {
    let s = Server::start();
    let mut con = s.client();
    let items: Vec<Vec<u8>> = vec![
        vec![],
        vec![0, 255, 13, 10],
        vec![0x80; 300],
        vec![7; 70_000],
    ];
    for item in &items {
        let _: i64 = redis::cmd("RPUSH")
            .arg("b")
            .arg(item)
            .query(&mut con)
            .unwrap();
    }
    let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("b")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(got, items);
    let idx: i64 = redis::cmd("LPOS")
        .arg("b")
        .arg(&items[2])
        .query(&mut con)
        .unwrap();
    assert_eq!(idx, 2);
    let last: Vec<u8> = redis::cmd("LINDEX")
        .arg("b")
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(last, items[3]);
}

#[test]
fn large_list_matches_a_model() {
    let s = Server::start();
    let mut con = s.client();
    let mut model: Vec<String> = Vec::new();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        let v = format!("element-{i:06}-{}", "x".repeat(i % 40));
        pipe.cmd("RPUSH").arg("big").arg(&v).ignore();
        model.push(v);
    }
    pipe.query::<()>(&mut con).unwrap();
    let len: usize = redis::cmd("LLEN").arg("big").query(&mut con).unwrap();
    assert_eq!(len, 5000);
    for i in [0usize, 1, 455, 456, 2500, 4998, 4999] {
        let v: String = redis::cmd("LINDEX")
            .arg("big")
            .arg(i)
            .query(&mut con)
            .unwrap();
        assert_eq!(v, model[i]);
    }
    let v: Vec<String> = redis::cmd("LRANGE")
        .arg("big")
        .arg(1000)
        .arg(3000)
        .query(&mut con)
        .unwrap();
    assert_eq!(v, model[1000..=3000]);

    let _: () = redis::cmd("LSET")
        .arg("big")
        .arg(3000)
        .arg("replaced")
        .query(&mut con)
        .unwrap();
    model[3000] = "replaced".into();
    let n: i64 = redis::cmd("LINSERT")
        .arg("big")
        .arg("BEFORE")
        .arg(&model[2000])
        .arg("inserted")
        .query(&mut con)
        .unwrap();
    model.insert(2000, "inserted".into());
    assert_eq!(n, model.len() as i64);
    let removed: i64 = redis::cmd("LREM")
        .arg("big")
        .arg(0)
        .arg(&model[10])
        .query(&mut con)
        .unwrap();
    assert_eq!(removed, 1);
    model.remove(10);
    let _: () = redis::cmd("LTRIM")
        .arg("big")
        .arg(100)
        .arg(-100)
        .query(&mut con)
        .unwrap();
    model = model[100..model.len() - 99].to_vec();
    let popped: Vec<String> = redis::cmd("RPOP")
        .arg("big")
        .arg(700)
        .query(&mut con)
        .unwrap();
    let want: Vec<String> = model.drain(model.len() - 700..).rev().collect();
    assert_eq!(popped, want);
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("big")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(all, model);
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query(&mut con)
        .unwrap();
    assert_eq!(enc, "quicklist");
}

#[test]
fn lpos_scans_from_either_end() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd(&["RPUSH", "l", "a", "x", "a", "x", "a"]);
    assert_eq!(c.cmd(&["LPOS", "l", "a", "RANK", "-2"]), b":2\r\n");
    assert_eq!(
        c.cmd(&["LPOS", "l", "a", "COUNT", "0", "RANK", "-1"]),
        b"*3\r\n:4\r\n:2\r\n:0\r\n"
    );
    assert_eq!(
        c.cmd(&["LPOS", "l", "a", "COUNT", "2", "MAXLEN", "3"]),
        b"*2\r\n:0\r\n:2\r\n"
    );
    assert_eq!(c.cmd(&["LPOS", "l", "a", "RANK", "4"]), b"$-1\r\n");
}

#[test]
fn lmove_to_itself_keeps_the_key() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd(&["RPUSH", "l", "only"]);
    c.cmd(&["EXPIRE", "l", "100"]);
    assert_eq!(
        c.cmd(&["LMOVE", "l", "l", "LEFT", "RIGHT"]),
        b"$4\r\nonly\r\n"
    );
    assert_eq!(c.cmd(&["TTL", "l"]), b":100\r\n");
}
