"""redis-py against a server on --port.

--protocol default|2|3 (default: the library's own choice). Every mismatch
is reported; the exit status is non-zero if there was any.
"""

import argparse
import sys
import threading

import redis


class Checker:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failures = []

    def eq(self, name, got, expected):
        if got == expected:
            self.passed += 1
        else:
            self.failures.append(f"{name}: got {got!r}, expected {expected!r}")

    def ok(self, name, condition, detail):
        if condition:
            self.passed += 1
        else:
            self.failures.append(f"{name}: {detail!r}")

    def raises(self, name, fn, fragment):
        try:
            value = fn()
        except redis.ResponseError as err:
            self.ok(name, fragment in str(err), str(err))
        else:
            self.failures.append(f"{name}: expected an error, got {value!r}")

    def finish(self):
        for f in self.failures:
            print(f"{self.label}: FAIL {f}", file=sys.stderr)
        print(f"{self.label}: {self.passed} passed, {len(self.failures)} failed")
        return 0 if not self.failures else 1


def run(check, port, protocol):
    kwargs = dict(host="127.0.0.1", port=port, socket_timeout=10, socket_connect_timeout=5)
    if protocol != "default":
        kwargs["protocol"] = int(protocol)
    r = redis.Redis(**kwargs)
    s = redis.Redis(decode_responses=True, **kwargs)

    check.eq("PING", r.ping(), True)
    check.eq("SET", s.set("py:str", "hello world"), True)
    check.eq("GET", s.get("py:str"), "hello world")
    check.eq("GET missing", s.get("py:missing"), None)
    check.eq("SET unicode", s.set("py:uni", "h\u00e9llo \u2603"), True)
    check.eq("GET unicode", s.get("py:uni"), "h\u00e9llo \u2603")
    check.eq("SET binary", r.set(b"py:bin\x00", b"\x00\xff\r\n\x01"), True)
    check.eq("GET binary", r.get(b"py:bin\x00"), b"\x00\xff\r\n\x01")
    check.eq("SET NX existing", s.set("py:str", "other", nx=True), None)
    check.eq("SET XX GET", s.set("py:str", "new", xx=True, get=True), "hello world")

    s.delete("py:counter", "py:pn")
    check.eq("INCR 1", s.incr("py:counter"), 1)
    check.eq("INCR 2", s.incr("py:counter"), 2)
    check.raises("INCR not an integer", lambda: s.incr("py:str"), "not an integer")

    check.eq("MSET", s.mset({"py:a": "1", "py:b": "2", "py:c": "3"}), True)
    check.eq("MGET", s.mget(["py:a", "py:b", "py:missing", "py:c"]), ["1", "2", None, "3"])

    check.eq("EXPIRE", s.expire("py:a", 100), True)
    ttl = s.ttl("py:a")
    check.ok("TTL in range", 90 < ttl <= 100, ttl)
    check.eq("TTL no expiry", s.ttl("py:b"), -1)
    check.eq("TTL missing", s.ttl("py:missing"), -2)
    check.eq("EXPIRE missing", s.expire("py:missing", 100), False)

    check.eq("DEL", s.delete("py:a", "py:b", "py:missing"), 2)
    check.eq("GET deleted", s.get("py:a"), None)

    pipe = s.pipeline(transaction=False)
    pipe.set("py:p", "x").incr("py:pn").incr("py:pn").get("py:p").incr("py:p").delete("py:p")
    replies = pipe.execute(raise_on_error=False)
    shown = [f"error: {v}" if isinstance(v, Exception) else v for v in replies]
    check.eq(
        "pipeline",
        shown,
        [True, 1, 2, "x", "error: value is not an integer or out of range", 1],
    )
    pipe = s.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"py:k{i}", i)
    for i in range(1000):
        pipe.get(f"py:k{i}")
    replies = pipe.execute()
    check.eq("1000-command pipeline", replies, [True] * 1000 + [str(i) for i in range(1000)])

    # Several threads share the client's connection pool.
    errors = []

    def worker(n):
        try:
            for i in range(50):
                key = f"py:t{n}:{i}"
                s.set(key, i)
                if s.get(key) != str(i):
                    errors.append(key)
        except Exception as err:  # reported below
            errors.append(repr(err))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check.eq("threads through the pool", errors, [])
    r.close()
    s.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--protocol", default="default", choices=["default", "2", "3"])
    opts = parser.parse_args()
    check = Checker(f"redis-py {redis.__version__} protocol={opts.protocol}")
    try:
        run(check, opts.port, opts.protocol)
    except Exception as err:
        check.failures.append(f"unexpected error: {type(err).__name__}: {err}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
