// Shared by the Node client programs: argument parsing and checks that
// collect every mismatch and turn them into the exit status.
"use strict";
const util = require("node:util");

function args() {
  const out = { port: 6379, resp: "default" };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (argv[i] === "--port") out.port = Number(value);
    else if (argv[i] === "--resp") out.resp = value;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return out;
}

class Checker {
  constructor(label) {
    this.label = label;
    this.passed = 0;
    this.failures = [];
    // A hung server must not hang the test: give up after 30 s.
    this.watchdog = setTimeout(() => {
      console.error(`${label}: no result within 30 s`);
      process.exit(3);
    }, 30000);
    this.watchdog.unref();
  }

  eq(name, got, expected) {
    if (util.isDeepStrictEqual(got, expected)) {
      this.passed += 1;
    } else {
      this.failures.push(
        `${name}: got ${util.inspect(got)}, expected ${util.inspect(expected)}`
      );
    }
  }

  ok(name, condition, detail) {
    if (condition) this.passed += 1;
    else this.failures.push(`${name}: ${util.inspect(detail)}`);
  }

  async rejects(name, promise, pattern) {
    try {
      const value = await promise;
      this.failures.push(`${name}: expected an error, got ${util.inspect(value)}`);
    } catch (err) {
      this.ok(name, pattern.test(String(err && err.message)), String(err));
    }
  }

  finish() {
    clearTimeout(this.watchdog);
    for (const f of this.failures) console.error(`${this.label}: FAIL ${f}`);
    console.log(
      `${this.label}: ${this.passed} passed, ${this.failures.length} failed`
    );
    process.exit(this.failures.length === 0 ? 0 : 1);
  }

  crash(err) {
    this.failures.push(`unexpected error: ${err && err.stack ? err.stack : err}`);
    this.finish();
  }
}

module.exports = { args, Checker };
