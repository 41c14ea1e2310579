// ioredis against a server on --port. Its ready check reads INFO and waits
// for `loading:0`. --resp default|2|3 (default: the library's choice).
"use strict";
const Redis = require("ioredis");
const { args, Checker } = require("./check.cjs");

async function main(check, opts) {
  const options = {
    host: "127.0.0.1",
    port: opts.port,
    lazyConnect: true,
    connectTimeout: 5000,
    commandTimeout: 10000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  };
  if (opts.resp !== "default") options.protocol = Number(opts.resp);
  const client = new Redis(options);
  client.on("error", (err) => check.failures.push(`client error event: ${err}`));
  await client.connect();

  check.eq("PING", await client.ping(), "PONG");
  check.eq("SET", await client.set("io:str", "hello world"), "OK");
  check.eq("GET", await client.get("io:str"), "hello world");
  check.eq("GET missing", await client.get("io:missing"), null);
  const bin = Buffer.from([0, 255, 13, 10, 1]);
  await client.set("io:bin", bin);
  const back = await client.getBuffer("io:bin");
  check.ok("GET binary", Buffer.isBuffer(back) && back.equals(bin), back);

  await client.del("io:counter", "io:pn");
  check.eq("INCR 1", await client.incr("io:counter"), 1);
  check.eq("INCR 2", await client.incr("io:counter"), 2);
  await check.rejects("INCR not an integer", client.incr("io:str"), /not an integer/);

  check.eq("MSET", await client.mset("io:a", "1", "io:b", "2", "io:c", "3"), "OK");
  check.eq("MGET", await client.mget("io:a", "io:b", "io:missing", "io:c"), ["1", "2", null, "3"]);

  check.eq("EXPIRE", await client.expire("io:a", 100), 1);
  const ttl = await client.ttl("io:a");
  check.ok("TTL in range", ttl > 90 && ttl <= 100, ttl);
  check.eq("TTL no expiry", await client.ttl("io:b"), -1);
  check.eq("TTL missing", await client.ttl("io:missing"), -2);

  check.eq("DEL", await client.del("io:a", "io:b", "io:missing"), 2);

  const replies = await client
    .pipeline()
    .set("io:p", "x")
    .incr("io:pn")
    .incr("io:pn")
    .get("io:p")
    .incr("io:p")
    .del("io:p")
    .exec();
  check.eq(
    "pipeline",
    replies.map(([err, value]) => (err ? `error: ${err.message}` : value)),
    ["OK", 1, 2, "x", "error: ERR value is not an integer or out of range", 1]
  );
  const gets = [];
  for (let i = 0; i < 200; i++) gets.push(client.set(`io:k${i}`, String(i)).then(() => client.get(`io:k${i}`)));
  check.eq("200 concurrent SET/GETs", await Promise.all(gets), Array.from({ length: 200 }, (_, i) => String(i)));

  await client.quit();
}

const opts = args();
const check = new Checker(`ioredis resp=${opts.resp}`);
main(check, opts).then(() => check.finish(), (err) => check.crash(err));
