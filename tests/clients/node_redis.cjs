// node-redis (`redis` on npm) against a server on --port.
// --resp default|2|3: default is the library's own choice (HELLO 3 in v5+).
"use strict";
const { createClient, RESP_TYPES } = require("redis");
const { args, Checker } = require("./check.cjs");

async function main(check, opts) {
  const options = {
    socket: { host: "127.0.0.1", port: opts.port, connectTimeout: 5000, reconnectStrategy: false },
  };
  if (opts.resp !== "default") options.RESP = Number(opts.resp);
  const client = createClient(options);
  client.on("error", (err) => check.failures.push(`client error event: ${err}`));
  await client.connect();

  check.eq("PING", await client.ping(), "PONG");
  check.eq("SET", await client.set("nr:str", "hello world"), "OK");
  check.eq("GET", await client.get("nr:str"), "hello world");
  check.eq("GET missing", await client.get("nr:missing"), null);
  check.eq("SET unicode", await client.set("nr:uni", "h\u00e9llo \u2603"), "OK");
  check.eq("GET unicode", await client.get("nr:uni"), "h\u00e9llo \u2603");
  const bin = Buffer.from([0, 255, 13, 10, 1]);
  await client.set("nr:bin", bin);
  const back = await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get("nr:bin");
  check.ok("GET binary", Buffer.isBuffer(back) && back.equals(bin), back);

  await client.del(["nr:counter", "nr:pn"]);
  check.eq("INCR 1", await client.incr("nr:counter"), 1);
  check.eq("INCR 2", await client.incr("nr:counter"), 2);
  check.eq("INCR 3", await client.incr("nr:counter"), 3);
  await check.rejects("INCR not an integer", client.incr("nr:str"), /not an integer/);

  check.eq("MSET", await client.mSet({ "nr:a": "1", "nr:b": "2", "nr:c": "3" }), "OK");
  check.eq("MGET", await client.mGet(["nr:a", "nr:b", "nr:missing", "nr:c"]), ["1", "2", null, "3"]);

  check.eq("EXPIRE", await client.expire("nr:a", 100), 1);
  const ttl = await client.ttl("nr:a");
  check.ok("TTL in range", ttl > 90 && ttl <= 100, ttl);
  check.eq("TTL no expiry", await client.ttl("nr:b"), -1);
  check.eq("TTL missing", await client.ttl("nr:missing"), -2);
  check.eq("EXPIRE missing", await client.expire("nr:missing", 100), 0);

  check.eq("DEL", await client.del(["nr:a", "nr:b", "nr:missing"]), 2);
  check.eq("GET deleted", await client.get("nr:a"), null);

  // An explicit pipeline (no MULTI) and implicit pipelining of
  // concurrent commands.
  const replies = await client
    .multi()
    .set("nr:p", "x")
    .incr("nr:pn")
    .incr("nr:pn")
    .get("nr:p")
    .del("nr:p")
    .execAsPipeline();
  check.eq("pipeline", replies, ["OK", 1, 2, "x", 1]);
  const sets = [];
  for (let i = 0; i < 200; i++) sets.push(client.set(`nr:k${i}`, String(i)));
  check.ok("200 concurrent SETs", (await Promise.all(sets)).every((r) => r === "OK"), "");
  const gets = [];
  for (let i = 0; i < 200; i++) gets.push(client.get(`nr:k${i}`));
  check.eq("200 concurrent GETs", await Promise.all(gets), Array.from({ length: 200 }, (_, i) => String(i)));

  await client.close();
}

const opts = args();
const check = new Checker(`node-redis resp=${opts.resp}`);
main(check, opts).then(() => check.finish(), (err) => check.crash(err));
